"""Predictions from registered versions: one loaded model per version and process, kept in a small
LRU cache, loaded from a checksum-verified local copy of the package."""

from __future__ import annotations

import shutil
import threading
from collections import OrderedDict
from pathlib import Path

from django.conf import settings
from django.core.files.storage import default_storage

from . import packages
from .models import ModelVersion

_cache: OrderedDict[str, object] = OrderedDict()
_lock = threading.Lock()


class PackageIntegrityError(RuntimeError):
    """The stored archive does not match the checksum recorded at registration."""


def predictor_for(version: ModelVersion):
    """The loaded predictor for `version` (cached per process by package checksum)."""
    key = version.package_sha256
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    predictor = packages.load_predictor(local_package(version))
    with _lock:
        _cache[key] = predictor
        while len(_cache) > settings.MODEL_CACHE_SIZE:
            _cache.popitem(last=False)
    return predictor


def local_package(version: ModelVersion) -> Path:
    """A local, verified, unpacked copy of the version's package (downloaded once per machine)."""
    root = Path(settings.MODEL_CACHE_DIR) / version.package_sha256
    ready = root / ".verified"
    if ready.exists():
        return root / "package"
    staging = root.with_name(root.name + f".tmp-{threading.get_ident()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        archive = staging / "package.tar.gz"
        with default_storage.open(version.package_path, "rb") as source:
            digest = packages.copy_with_digest(source, archive)
        if digest != version.package_sha256:
            raise PackageIntegrityError(f"The stored package of {version} does not match its recorded checksum.")
        packages.verify_archive(archive, staging / "package")
        archive.unlink()
        (staging / ".verified").touch()
        shutil.rmtree(root, ignore_errors=True)
        staging.rename(root)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return root / "package"


def clear_cache() -> None:
    with _lock:
        _cache.clear()


def predict_smiles(version: ModelVersion, smiles: list[str]) -> list[dict]:
    """Predictions for a short list of SMILES (the API and the "try it" box), aligned with the input."""
    return packages.prediction_rows(predictor_for(version), smiles, version.manifest.get("classes"))
