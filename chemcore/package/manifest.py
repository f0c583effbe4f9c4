"""The manifest: what a package holds and how to use it, validated field by field on read and write.

A reader refuses what it does not understand (an unknown format version, flavour, task or top-level
field) instead of guessing: a model that silently runs with the wrong featuriser gives plausible but
wrong numbers. See PACKAGE_FORMAT.md for the field list and the versioning rules.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from ..standardise import StandardiseOptions
from .errors import PackageError

FORMAT_VERSION = "1"
SUPPORTED_FORMAT_VERSIONS = ("1",)
FLAVOURS = ("sklearn", "pytorch", "keras")
TASKS = ("regression", "classification")
MANIFEST_NAME = "manifest.json"
MAX_MANIFEST_BYTES = 16 * 1024 * 1024

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def json_safe(value: Any) -> Any:
    """Plain JSON values: NumPy scalars/arrays unwrapped, tuples as lists, NaN/inf as null."""
    if hasattr(value, "tolist") and not isinstance(value, str | bytes):
        value = value.tolist()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if value is None or isinstance(value, str | int | bool):
        return value
    raise PackageError(f"value of type {type(value).__name__} cannot be written to a manifest: {value!r}")


def check_file_name(name: str) -> None:
    """Weights files are plain names in the package directory (no paths, no hidden files)."""
    if not isinstance(name, str) or not _FILE_NAME.match(name) or name == MANIFEST_NAME or ".." in name:
        raise PackageError(f"manifest lists an invalid file name {name!r} (plain names only)")


@dataclass(frozen=True)
class Manifest:
    """The parsed `manifest.json` (see PACKAGE_FORMAT.md). Build with `from_dict` to validate."""

    format_version: str
    flavour: str
    task: str
    classes: list[Any] | None
    target: dict[str, Any]
    featuriser: dict[str, Any]
    standardisation: dict[str, Any] | None
    training_data: dict[str, Any]
    params: dict[str, Any]
    metrics: dict[str, Any]
    library_versions: dict[str, str]
    created_at: str
    files: dict[str, str]
    architecture: dict[str, Any] | None = None
    training: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def target_name(self) -> str:
        return str(self.target["name"])

    @property
    def standardise_options(self) -> StandardiseOptions | None:
        return None if self.standardisation is None else StandardiseOptions.from_dict(self.standardisation)

    def to_dict(self) -> dict[str, Any]:
        return json_safe(asdict(self))

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=False, allow_nan=False) + "\n"

    @classmethod
    def from_dict(cls, data: Any) -> Manifest:
        """Validate and build; `PackageError` naming the first bad field otherwise."""
        if not isinstance(data, Mapping):
            raise PackageError("manifest must be a JSON object")
        version = data.get("format_version")
        if version not in SUPPORTED_FORMAT_VERSIONS:
            readable = ", ".join(SUPPORTED_FORMAT_VERSIONS)
            raise PackageError(f"unsupported package format_version {version!r}; this code reads {readable}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise PackageError(f"manifest has unknown field(s) for format_version {version}: {', '.join(unknown)}")
        required = [f.name for f in fields(cls) if f.name not in ("architecture", "training", "extra")]
        missing = [name for name in required if name not in data]
        if missing:
            raise PackageError(f"manifest is missing field(s): {', '.join(missing)}")
        manifest = cls(**{name: data[name] for name in known if name in data})
        manifest.validate()
        return manifest

    def validate(self) -> None:
        if self.flavour not in FLAVOURS:
            raise PackageError(f"unknown flavour {self.flavour!r}; expected one of {', '.join(FLAVOURS)}")
        if self.task not in TASKS:
            raise PackageError(f"unknown task {self.task!r}; expected one of {', '.join(TASKS)}")
        if self.task == "classification":
            if not isinstance(self.classes, list) or len(self.classes) < 2:
                raise PackageError("a classification package needs 'classes': a list of at least two labels")
            if len({json.dumps(c) for c in self.classes}) != len(self.classes):
                raise PackageError("manifest 'classes' lists a label twice")
        elif self.classes is not None:
            raise PackageError("a regression package must have 'classes': null")
        _require_dict(self.target, "target")
        if not isinstance(self.target.get("name"), str) or not self.target["name"]:
            raise PackageError("manifest 'target.name' must be a non-empty string")
        if self.target.get("units") is not None and not isinstance(self.target["units"], str):
            raise PackageError("manifest 'target.units' must be a string or null")
        _require_dict(self.featuriser, "featuriser")
        if not isinstance(self.featuriser.get("type"), str):
            raise PackageError("manifest 'featuriser' must be a featuriser spec with a 'type'")
        if self.standardisation is not None:
            _require_dict(self.standardisation, "standardisation")
            try:
                StandardiseOptions.from_dict(self.standardisation)
            except (TypeError, ValueError) as exc:
                raise PackageError(f"manifest 'standardisation' is invalid: {exc}") from exc
        _require_dict(self.training_data, "training_data")
        fingerprint = self.training_data.get("fingerprint")
        if fingerprint is not None and not (isinstance(fingerprint, str) and _SHA256.match(fingerprint)):
            raise PackageError("manifest 'training_data.fingerprint' must be a sha256 hex digest or null")
        n_records = self.training_data.get("n_records")
        if n_records is not None and (isinstance(n_records, bool) or not isinstance(n_records, int) or n_records < 0):
            raise PackageError("manifest 'training_data.n_records' must be a non-negative integer or null")
        for name in ("params", "metrics", "library_versions", "files", "extra"):
            _require_dict(getattr(self, name), name)
        for name in ("architecture", "training"):
            if getattr(self, name) is not None:
                _require_dict(getattr(self, name), name)
        if not isinstance(self.created_at, str):
            raise PackageError("manifest 'created_at' must be an ISO 8601 string")
        if not self.files:
            raise PackageError("manifest 'files' is empty: a package needs at least one weights file")
        for name, digest in self.files.items():
            check_file_name(name)
            if not isinstance(digest, str) or not _SHA256.match(digest):
                raise PackageError(f"manifest 'files' entry {name!r} must be a lowercase sha256 hex digest")


def _require_dict(value: Any, name: str) -> None:
    if not isinstance(value, dict):
        raise PackageError(f"manifest {name!r} must be a JSON object, not {type(value).__name__}")


def read_manifest(directory: str | Path) -> Manifest:
    """Read and validate `directory/manifest.json` (no weights are touched)."""
    path = Path(directory) / MANIFEST_NAME
    if not path.is_file():
        raise PackageError(f"not a model package: {path} not found")
    if path.stat().st_size > MAX_MANIFEST_BYTES:
        raise PackageError(f"{path} is larger than {MAX_MANIFEST_BYTES:,} bytes")
    return parse_manifest(path.read_bytes())


def parse_manifest(raw: bytes) -> Manifest:
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PackageError(f"manifest.json is not valid JSON: {exc}") from exc
    return Manifest.from_dict(data)
