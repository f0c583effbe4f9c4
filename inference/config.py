"""The server's configuration, read once from the environment; a missing or malformed value stops
start-up with a message naming the variable."""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chemcore.size_limit import DEFAULT_MAX_HEAVY_ATOMS

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_MODEL_KEYS = {"name", "version", "labels", "uri", "sha256"}


class ConfigError(ValueError):
    """A configuration variable is missing or malformed (the message names it)."""


@dataclass(frozen=True)
class ModelSpec:
    """One model version to serve: where its package archive is and the SHA-256 it must have."""

    name: str
    version: int
    labels: tuple[str, ...]
    uri: str
    sha256: str

    @property
    def key(self) -> str:
        return f"{self.name}/{self.version}"


@dataclass(frozen=True)
class Settings:
    models: tuple[ModelSpec, ...]
    cache_dir: Path
    max_package_bytes: int
    dynamic_batching: bool
    max_batch_size: int
    max_batch_delay_seconds: float
    max_request_bytes: int
    max_molecules: int
    max_heavy_atoms: int
    max_smiles_length: int
    request_timeout_seconds: float
    token: str | None
    log_level: str
    log_format: str


def _integer(env: Mapping[str, str], name: str, default: int, *, minimum: int = 0) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, not {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, not {value}")
    return value


def _number(env: Mapping[str, str], name: str, default: float, *, minimum: float = 0.0) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, not {raw!r}") from None
    if not value >= minimum:  # also refuses NaN
        raise ConfigError(f"{name} must be at least {minimum:g}, not {raw}")
    return value


def _boolean(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be true or false, not {env[name]!r}")


def _choice(env: Mapping[str, str], name: str, default: str, choices: set[str]) -> str:
    value = env.get(name, "").strip() or default
    if value.lower() not in {c.lower() for c in choices}:
        raise ConfigError(f"{name} must be one of {', '.join(sorted(choices))}, not {value!r}")
    return value


def _secret(env: Mapping[str, str], name: str) -> str | None:
    """`NAME`, or the contents of the file named by `NAME_FILE` (for mounted secrets)."""
    file_name = env.get(f"{name}_FILE", "").strip()
    if file_name and env.get(name):
        raise ConfigError(f"set {name} or {name}_FILE, not both")
    if file_name:
        try:
            value = Path(file_name).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"{name}_FILE: cannot read {file_name}: {exc.strerror}") from None
        if not value:
            raise ConfigError(f"{name}_FILE: {file_name} is empty")
        return value
    return env.get(name) or None


def parse_models(raw: Any, source: str) -> tuple[ModelSpec, ...]:
    """The model list (`[{"name", "version", "labels", "uri", "sha256"}, …]`), each field checked;
    `source` names where it came from in messages."""
    if not isinstance(raw, list) or not raw:
        raise ConfigError(f"{source} must be a non-empty JSON list of models")
    specs: list[ModelSpec] = []
    for i, item in enumerate(raw):
        where = f"{source}[{i}]"
        if not isinstance(item, dict):
            raise ConfigError(f"{where} must be an object with name, version, uri and sha256")
        unknown = sorted(set(item) - _MODEL_KEYS)
        if unknown:
            raise ConfigError(f"{where} has unknown field(s): {', '.join(unknown)}")
        for key in ("name", "version", "uri", "sha256"):
            if key not in item:
                raise ConfigError(f"{where} lacks {key!r}")
        name, version, uri, sha256 = item["name"], item["version"], item["uri"], item["sha256"]
        labels = item.get("labels", [])
        if not isinstance(name, str) or not _NAME.match(name):
            raise ConfigError(f"{where}.name must be letters, digits, '.', '_' or '-' (not {name!r})")
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise ConfigError(f"{where}.version must be a positive integer, not {version!r}")
        if not isinstance(uri, str) or not uri.strip():
            raise ConfigError(f"{where}.uri must be a path, s3:// or https:// URL")
        if not isinstance(sha256, str) or not _SHA256.match(sha256):
            raise ConfigError(f"{where}.sha256 must be 64 lower-case hex digits")
        if not isinstance(labels, list) or not all(isinstance(x, str) and _NAME.match(x) for x in labels):
            raise ConfigError(f"{where}.labels must be a list of names")
        if any(label.isdigit() for label in labels):
            raise ConfigError(f"{where}.labels: a label cannot be a number (it would read as a version)")
        specs.append(ModelSpec(name, version, tuple(labels), uri.strip(), sha256))
    seen: dict[tuple[str, int], int] = {}
    labelled: dict[tuple[str, str], int] = {}
    for spec in specs:
        if (spec.name, spec.version) in seen:
            raise ConfigError(f"{source}: {spec.name} version {spec.version} is listed twice")
        seen[(spec.name, spec.version)] = spec.version
        for label in spec.labels:
            if (spec.name, label) in labelled:
                raise ConfigError(f"{source}: label {label!r} of {spec.name} points at two versions")
            labelled[(spec.name, label)] = spec.version
    return tuple(specs)


def _models(env: Mapping[str, str]) -> tuple[ModelSpec, ...]:
    inline, file_name = env.get("INFERENCE_MODELS", "").strip(), env.get("INFERENCE_MODELS_FILE", "").strip()
    if inline and file_name:
        raise ConfigError("set INFERENCE_MODELS or INFERENCE_MODELS_FILE, not both")
    if not inline and not file_name:
        raise ConfigError("INFERENCE_MODELS (JSON) or INFERENCE_MODELS_FILE (a JSON file) is required")
    source = "INFERENCE_MODELS"
    if file_name:
        source = "INFERENCE_MODELS_FILE"
        try:
            inline = Path(file_name).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"INFERENCE_MODELS_FILE: cannot read {file_name}: {exc.strerror}") from None
    try:
        raw = json.loads(inline)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{source} is not valid JSON: {exc}") from None
    return parse_models(raw, source)


def settings_from_env(env: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    default_cache = Path(tempfile.gettempdir()) / "inference-models"
    return Settings(
        models=_models(env),
        cache_dir=Path(env.get("INFERENCE_CACHE_DIR", "").strip() or default_cache),
        max_package_bytes=_integer(env, "INFERENCE_MAX_PACKAGE_BYTES", 2 * 1024**3, minimum=1),
        dynamic_batching=_boolean(env, "INFERENCE_DYNAMIC_BATCHING", True),
        max_batch_size=_integer(env, "INFERENCE_MAX_BATCH_SIZE", 256, minimum=1),
        max_batch_delay_seconds=_number(env, "INFERENCE_MAX_BATCH_DELAY_MS", 0.0) / 1000,
        max_request_bytes=_integer(env, "INFERENCE_MAX_REQUEST_BYTES", 4 * 1024**2, minimum=1024),
        max_molecules=_integer(env, "INFERENCE_MAX_MOLECULES", 1000, minimum=1),
        max_heavy_atoms=_integer(env, "MAX_HEAVY_ATOMS", DEFAULT_MAX_HEAVY_ATOMS, minimum=1),
        max_smiles_length=_integer(env, "INFERENCE_MAX_SMILES_LENGTH", 4000, minimum=1),
        request_timeout_seconds=_number(env, "INFERENCE_REQUEST_TIMEOUT_SECONDS", 30.0, minimum=0.001),
        token=_secret(env, "INFERENCE_TOKEN"),
        log_level=_choice(env, "LOG_LEVEL", "INFO", {"DEBUG", "INFO", "WARNING", "ERROR"}).upper(),
        log_format=_choice(env, "LOG_FORMAT", "json", {"json", "text"}).lower(),
    )
