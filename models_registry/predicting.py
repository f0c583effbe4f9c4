"""Predictions from registered versions: a version's package is fetched from object storage and
verified once per machine (`chemcore.package.verified_local_copy`), loaded once per process into the
core's predictor cache (`chemcore.predictor.PREDICTORS`, keyed by the archive's checksum), and asked
for JSON-ready rows. Public to other apps (campaigns score through `predictor_for`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage

from chemcore.package import PackageIntegrityError, verified_local_copy
from chemcore.predictor import PREDICTORS, Predictor

from .models import ModelVersion

__all__ = ["PackageIntegrityError", "clear_cache", "local_package", "predict_smiles", "predictor_for"]


def predictor_for(version: ModelVersion) -> Predictor:
    """The loaded predictor for `version` (cached per process by package checksum)."""
    PREDICTORS.size = settings.MODEL_CACHE_SIZE
    return PREDICTORS.get(version.package_sha256, lambda: Predictor.load(local_package(version)))


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


def predict_smiles(version: ModelVersion, smiles: list[str]) -> list[dict[str, Any]]:
    """Predictions for a short list of SMILES (the API and the "try it" box), aligned with the input."""
    return predictor_for(version).predict_rows(smiles)
