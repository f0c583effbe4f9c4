"""Compute backends by name, imported only when asked for (boto3 and the Kubernetes client are heavy)."""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from typing import Any

from .base import ComputeBackend

Factory = Callable[..., ComputeBackend]

_lock = threading.Lock()
# name → a factory, or "module:Class" whose `from_settings` is the factory (resolved on first use).
_factories: dict[str, Factory | str] = {
    "local": "compute.local:LocalBackend",
    "batch": "compute.aws_batch:BatchBackend",
    "kubernetes": "compute.kubernetes_jobs:KubernetesBackend",
}


def register_backend(name: str, factory: Factory | str) -> None:
    """Make `get_backend(name)` call `factory(**overrides)`; a "module:Class" string is imported
    lazily and its `from_settings` used. Registering a name again replaces it."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"a backend name must be a non-empty string, got {name!r}")
    if not callable(factory) and not (isinstance(factory, str) and ":" in factory):
        raise ValueError(f"backend {name!r}: the factory must be callable or 'module:Class', got {factory!r}")
    with _lock:
        _factories[name] = factory


def backend_names() -> list[str]:
    with _lock:
        return sorted(_factories)


def get_backend(name: str, **overrides: Any) -> ComputeBackend:
    """A new backend named `name`, configured from settings; keyword arguments override settings."""
    with _lock:
        factory = _factories.get(name)
    if factory is None:
        raise ValueError(f"unknown compute backend {name!r}: choose one of {', '.join(backend_names())}")
    if isinstance(factory, str):
        module_name, _, class_name = factory.partition(":")
        factory = getattr(importlib.import_module(module_name), class_name).from_settings
    return factory(**overrides)
