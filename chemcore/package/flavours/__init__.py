"""Flavour registry: the module for a flavour is imported only when that flavour is used.

Importing TensorFlow costs seconds and torch about one; a process that only serves forests pays neither.
"""

from __future__ import annotations

import importlib
from functools import cache

from ..errors import PackageError
from ..manifest import FLAVOURS
from .base import Flavour, RawOutput, SavedWeights, classifier_value

_MODULES = {
    "sklearn": "sklearn_flavour",
    "pytorch": "pytorch_flavour",
    "keras": "keras_flavour",
}


@cache
def get_flavour(name: str) -> Flavour:
    """The flavour object for `name` ("sklearn", "pytorch", "keras")."""
    if name not in _MODULES:
        raise PackageError(f"unknown flavour {name!r}; expected one of {', '.join(FLAVOURS)}")
    module = importlib.import_module(f"{__name__}.{_MODULES[name]}")
    return module.FLAVOUR


__all__ = ["Flavour", "RawOutput", "SavedWeights", "classifier_value", "get_flavour"]
