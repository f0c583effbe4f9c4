"""Predictions from registered versions: a version's package is fetched from object storage and
verified once per machine (`chemcore.package.verified_local_copy`), loaded once per process into the
core's predictor cache (`chemcore.predictor.PREDICTORS`, keyed by the archive's checksum and the size
bound), and asked for JSON-ready rows. Public to other apps (campaigns score through `predictor_for`).

Work is bounded twice: per molecule by `MAX_HEAVY_ATOMS` (the predictor refuses larger inputs before
standardising or featurising them) and per call of `predict_smiles` by `PREDICT_TIME_BUDGET_SECONDS`
(inputs are scored in small batches while the budget lasts; the rest come back as not predicted).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage

from chemcore.package import PackageIntegrityError, verified_local_copy
from chemcore.predictor import PREDICTORS, Predictor

from .models import ModelVersion

__all__ = [
    "PREDICT_BATCH_SIZE",
    "PackageIntegrityError",
    "budget_error",
    "clear_cache",
    "local_package",
    "predict_smiles",
    "predictor_for",
]

# A request may run past its budget by one batch: 16 molecules at the heavy-atom bound take ~2 s on
# RDKit descriptors on one free core, while drug-like ones cost ~1 ms each, so small batches cost
# little throughput (1,000 SMILES on a Morgan forest: ~0.9 s instead of ~0.7 s in one batch).
PREDICT_BATCH_SIZE = 16


def predictor_for(version: ModelVersion) -> Predictor:
    """The loaded predictor for `version` (cached per process by package checksum and size bound)."""
    PREDICTORS.size = settings.MODEL_CACHE_SIZE
    limit = settings.MAX_HEAVY_ATOMS
    return PREDICTORS.get(
        f"{version.package_sha256}#max_heavy_atoms={limit}",
        lambda: Predictor.load(local_package(version), max_heavy_atoms=limit),
    )


def local_package(version: ModelVersion) -> Path:
    """A local, verified, unpacked copy of the version's package (downloaded once per machine)."""
    return verified_local_copy(
        lambda: default_storage.open(version.package_path, "rb"),
        sha256=version.package_sha256,
        cache_dir=settings.MODEL_CACHE_DIR,
        max_bytes=settings.MAX_PACKAGE_BYTES,
        label=str(version),
    )


def clear_cache() -> None:
    PREDICTORS.clear()


def budget_error(seconds: int) -> str:
    """The error of an input left unscored because the request's time budget ran out."""
    return f"not predicted: the request's time budget of {seconds} s was spent"


def predict_smiles(version: ModelVersion, smiles: list[str]) -> list[dict[str, Any]]:
    """Predictions for a short list of SMILES (the API and the "try it" box), aligned with the input.

    The clock starts here, so loading the model on a process's first call counts against the budget;
    it is checked before each batch, and once spent every remaining input gets a row with value None
    and `budget_error`. Nothing is left running when this returns.
    """
    started = time.monotonic()
    seconds = settings.PREDICT_TIME_BUDGET_SECONDS
    predictor = predictor_for(version)
    rows: list[dict[str, Any]] = []
    for start in range(0, len(smiles), PREDICT_BATCH_SIZE):
        if time.monotonic() - started >= seconds:
            error = budget_error(seconds)
            rows += [_unscored(text, error) for text in smiles[start:]]
            break
        rows += predictor.predict_rows(smiles[start : start + PREDICT_BATCH_SIZE])
    return rows


def _unscored(text: str, error: str) -> dict[str, Any]:
    return {"smiles": text, "value": None, "uncertainty": None, "probabilities": None, "error": error}
