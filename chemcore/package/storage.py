"""Write and read model packages: `save_package` → directory; `load_package` → `LoadedModel`.

Loading checks, in order and before any weights are deserialised: the manifest (format version,
flavour, task, every field), that the directory holds exactly manifest.json plus the listed files
(regular files, no links), every file's sha256, and that the featuriser spec rebuilds. Only then are
the verified bytes handed to the flavour.
"""

from __future__ import annotations

import os
import platform
import shutil
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from rdkit import rdBase

from ..featurisers import Featuriser, featuriser_from_spec
from ..standardise import StandardiseOptions
from .checksums import sha256_bytes, sha256_file
from .errors import PackageError
from .flavours import Flavour, RawOutput, get_flavour
from .manifest import FLAVOURS, FORMAT_VERSION, MANIFEST_NAME, TASKS, Manifest, json_safe, read_manifest

# Library differences worth a warning when a package is loaded elsewhere (weights formats can drift).
_VERSION_KEYS = ("sklearn", "skops", "torch", "keras", "tensorflow", "rdkit")


@dataclass
class LoadedModel:
    """A verified, deserialised package: the manifest, the model object and its featuriser."""

    manifest: Manifest
    model: Any
    flavour: Flavour
    featuriser: Featuriser
    directory: Path
    warnings: list[str] = field(default_factory=list)

    def predict_arrays(self, X: np.ndarray) -> RawOutput:
        """One model call on a float32 feature matrix (rows as given; no masking)."""
        return self.flavour.predict(self.model, X, task=self.manifest.task)


def base_library_versions() -> dict[str, str]:
    return {"python": platform.python_version(), "numpy": np.__version__, "rdkit": rdBase.rdkitVersion}


def _featuriser(spec: Mapping[str, Any]) -> Featuriser:
    try:
        return featuriser_from_spec(spec)
    except ValueError as exc:
        raise PackageError(f"featuriser spec cannot be built: {exc}") from exc


def _standardisation_dict(value: StandardiseOptions | Mapping[str, Any] | None) -> dict[str, Any] | None:
    if value is None:
        return None
    if isinstance(value, StandardiseOptions):
        return value.to_dict()
    try:
        return StandardiseOptions.from_dict(value).to_dict()
    except (TypeError, ValueError) as exc:
        raise PackageError(f"standardisation options are invalid: {exc}") from exc


def _prepare_target_dir(directory: Path, overwrite: bool) -> None:
    if directory.is_symlink() or (directory.exists() and not directory.is_dir()):
        raise PackageError(f"{directory} exists and is not a directory")
    if directory.exists() and any(directory.iterdir()) and not overwrite:
        raise PackageError(f"{directory} is not empty (pass overwrite=True to replace a package)")


def save_package(
    directory: str | os.PathLike[str],
    *,
    model_object: Any,
    flavour: str,
    task: str,
    target_name: str,
    featuriser: Mapping[str, Any],
    target_units: str | None = None,
    classes: list[Any] | None = None,
    standardisation: StandardiseOptions | Mapping[str, Any] | None = None,
    training_data: Mapping[str, Any] | None = None,
    params: Mapping[str, Any] | None = None,
    metrics: Mapping[str, Any] | None = None,
    training: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
    overwrite: bool = False,
) -> Manifest:
    """Write `model_object` and its manifest into `directory` (created; must be empty unless `overwrite`).

    The package is assembled in a sibling temporary directory and renamed into place, so a crash
    never leaves a half-written package behind. `training_data` = {fingerprint, n_records, source}.
    """
    if flavour not in FLAVOURS:
        raise PackageError(f"unknown flavour {flavour!r}; expected one of {', '.join(FLAVOURS)}")
    if task not in TASKS:
        raise PackageError(f"unknown task {task!r}; expected one of {', '.join(TASKS)}")
    target = Path(directory)
    _prepare_target_dir(target, overwrite)
    feats = _featuriser(featuriser)
    handler = get_flavour(flavour)
    n_classes = len(classes) if classes is not None else None
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.parent / f".{target.name}.tmp-{uuid.uuid4().hex[:12]}"
    staging.mkdir()
    try:
        saved = handler.save(model_object, staging, task=task, n_classes=n_classes)
        written = sorted(p.name for p in staging.iterdir())
        if written != sorted(saved.files):
            raise PackageError(f"flavour {flavour} wrote {written}, expected {sorted(saved.files)}")
        if saved.n_features is not None and saved.n_features != feats.n_features:
            raise PackageError(f"model expects {saved.n_features} features; the featuriser makes {feats.n_features}")
        data = dict(training_data or {})
        manifest = Manifest.from_dict(
            json_safe(
                {
                    "format_version": FORMAT_VERSION,
                    "flavour": flavour,
                    "task": task,
                    "classes": list(classes) if classes is not None else None,
                    "target": {"name": target_name, "units": target_units},
                    "featuriser": feats.spec,
                    "standardisation": _standardisation_dict(standardisation),
                    "training_data": {
                        "fingerprint": data.pop("fingerprint", None),
                        "n_records": data.pop("n_records", None),
                        "source": data.pop("source", None),
                        **data,
                    },
                    "params": dict(params or {}),
                    "metrics": dict(metrics or {}),
                    "library_versions": {**base_library_versions(), **handler.library_versions()},
                    "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                    "files": {name: sha256_file(staging / name) for name in saved.files},
                    "architecture": saved.architecture,
                    "training": dict(training) if training is not None else None,
                    "extra": dict(extra or {}),
                }
            )
        )
        (staging / MANIFEST_NAME).write_text(manifest.to_json(), encoding="utf-8")
        if target.exists() and overwrite:
            shutil.rmtree(target)
        elif target.exists():
            target.rmdir()
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return manifest


def read_verified_files(directory: Path, manifest: Manifest) -> dict[str, bytes]:
    """The listed files' bytes after checking the directory holds exactly them and their sha256 match."""
    present: dict[str, os.DirEntry[str]] = {}
    with os.scandir(directory) as entries:
        for entry in entries:
            if entry.is_symlink() or not entry.is_file(follow_symlinks=False):
                raise PackageError(f"package holds {entry.name!r}, which is not a regular file")
            if entry.name != MANIFEST_NAME:
                present[entry.name] = entry
    extra = sorted(set(present) - set(manifest.files))
    if extra:
        raise PackageError(f"package holds file(s) the manifest does not list: {', '.join(extra)}")
    missing = sorted(set(manifest.files) - set(present))
    if missing:
        raise PackageError(f"package is missing file(s) listed in the manifest: {', '.join(missing)}")
    blobs: dict[str, bytes] = {}
    for name, expected in manifest.files.items():
        data = (directory / name).read_bytes()
        if sha256_bytes(data) != expected:
            raise PackageError(f"checksum mismatch for {name}: the file was modified or corrupted")
        blobs[name] = data
    return blobs


def load_package(directory: str | os.PathLike[str]) -> LoadedModel:
    """Verify and load a package directory (see the module docstring for the checks, in order)."""
    path = Path(directory)
    if path.is_symlink() or not path.is_dir():
        raise PackageError(f"not a model package directory: {path}")
    manifest_path = path / MANIFEST_NAME
    if manifest_path.is_symlink():
        raise PackageError(f"{manifest_path} is a link; a package holds regular files only")
    manifest = read_manifest(path)
    handler = get_flavour(manifest.flavour)
    blobs = read_verified_files(path, manifest)
    feats = _featuriser(manifest.featuriser)
    if feats.spec != manifest.featuriser:
        raise PackageError("manifest featuriser spec is not in the normalised form this code builds")
    model = handler.load(
        blobs,
        task=manifest.task,
        n_classes=len(manifest.classes) if manifest.classes is not None else None,
        architecture=manifest.architecture,
    )
    n_features = handler.n_features(model)
    if n_features is not None and n_features != feats.n_features:
        raise PackageError(f"model expects {n_features} features; the featuriser makes {feats.n_features}")
    return LoadedModel(manifest, model, handler, feats, path, _version_warnings(manifest, handler))


def _version_warnings(manifest: Manifest, handler: Flavour) -> list[str]:
    current = {**base_library_versions(), **handler.library_versions()}
    return [
        f"package was written with {key} {manifest.library_versions[key]}; this process has {current[key]}"
        for key in _VERSION_KEYS
        if key in manifest.library_versions and key in current and manifest.library_versions[key] != current[key]
    ]
