"""The registry's one door to the Django-free package code: verify, archive and load packages."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path
from typing import IO

from django.conf import settings
from django.core.exceptions import ValidationError

from .core.package import PackageError, pack, unpack
from .core.predictor import Predictor


def verify_archive(archive: Path, destination: Path) -> dict:
    """Unpack `archive` into `destination`, checking format, layout, sizes and every checksum.

    Returns the manifest as a dict; a package the portal does not understand is a ValidationError.
    """
    try:
        manifest = unpack(archive, destination, max_bytes=settings.MAX_PACKAGE_BYTES)
    except PackageError as exc:
        raise ValidationError(f"Not a valid model package: {exc}") from None
    return manifest.to_dict()


CHUNK = 1024 * 1024


def copy_with_digest(source: IO[bytes], destination: Path, *, limit: int | None = None) -> str:
    """Stream `source` into `destination` (at most `limit` bytes); return its SHA-256."""
    digest = hashlib.sha256()
    written = 0
    with destination.open("wb") as out:
        while chunk := source.read(CHUNK):
            written += len(chunk)
            if limit is not None and written > limit:
                raise ValidationError(f"The package is larger than the limit of {limit // CHUNK} MiB.")
            digest.update(chunk)
            out.write(chunk)
    if written == 0:
        raise ValidationError("The package archive is empty.")
    return digest.hexdigest()


def pack_directory(directory: Path, archive: Path) -> None:
    try:
        pack(directory, archive)
    except PackageError as exc:
        raise ValidationError(f"Not a valid model package: {exc}") from None


def load_predictor(directory: Path) -> Predictor:
    return Predictor.load(directory)


def prediction_rows(predictor: Predictor, smiles: list[str], classes: list | None) -> list[dict]:
    """Predictions aligned with `smiles`, as JSON-ready rows (None where a value is missing)."""
    batch = predictor.predict_all(smiles)
    rows = []
    for i, text in enumerate(smiles):
        probabilities = None
        if batch.probabilities is not None and batch.valid[i]:
            labels = classes or list(range(batch.probabilities.shape[1]))
            probabilities = {str(label): float(p) for label, p in zip(labels, batch.probabilities[i], strict=True)}
        rows.append(
            {
                "smiles": text,
                "value": _number(batch.value[i]),
                "uncertainty": _number(batch.uncertainty[i]),
                "probabilities": probabilities,
                "error": batch.errors[i],
            }
        )
    return rows


def _number(value: float) -> float | None:
    return None if math.isnan(value) else float(value)
