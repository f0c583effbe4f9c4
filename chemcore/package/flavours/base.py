"""One small interface per flavour: save a model's weights, load them from verified bytes, predict arrays.

`load` receives the weights as bytes that were already checked against the manifest's sha256, so no
file is read twice (nothing can swap a file between the check and the load).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


@dataclass(slots=True)
class RawOutput:
    """A model's output for one feature matrix (rows aligned with its rows).

    `value` (n,) float64: the regression prediction, or for classifiers the probability of the
    positive class (binary) / the index of the most probable class (multi-class).
    `uncertainty` (n,) float64 or None. `probabilities` (n, n_classes) float64 or None.
    """

    value: np.ndarray
    uncertainty: np.ndarray | None = None
    probabilities: np.ndarray | None = None


@dataclass(slots=True)
class SavedWeights:
    """What a flavour wrote: the weights files (names relative to the package) and manifest additions."""

    files: list[str]
    architecture: dict[str, Any] | None = None
    n_features: int | None = None
    n_outputs: int | None = None


def classifier_value(probabilities: np.ndarray) -> np.ndarray:
    """The `value` of a classifier: P(classes[1]) when binary, else the most probable class index."""
    if probabilities.shape[1] == 2:
        return np.ascontiguousarray(probabilities[:, 1], dtype=np.float64)
    return probabilities.argmax(axis=1).astype(np.float64)


def value_column(probabilities: np.ndarray) -> np.ndarray:
    """For each row, the column `classifier_value` reports (1 when binary, argmax otherwise)."""
    if probabilities.shape[1] == 2:
        return np.ones(probabilities.shape[0], dtype=np.intp)
    return probabilities.argmax(axis=1)


class Flavour(ABC):
    """Save/load/predict for one model library."""

    name: str
    weights_file: str

    @abstractmethod
    def save(self, model: Any, directory: Path, *, task: str, n_classes: int | None) -> SavedWeights:
        """Write the weights into `directory`; raise `PackageError` if the model does not fit the task."""

    @abstractmethod
    def load(
        self, blobs: Mapping[str, bytes], *, task: str, n_classes: int | None, architecture: Mapping[str, Any] | None
    ) -> Any:
        """Rebuild the model from verified bytes (never unpickles)."""

    @abstractmethod
    def predict(self, model: Any, X: np.ndarray, *, task: str) -> RawOutput:
        """One call over a float32 (n, d) matrix."""

    @abstractmethod
    def n_features(self, model: Any) -> int | None:
        """How many input features the model expects (None if it cannot tell)."""

    @abstractmethod
    def library_versions(self) -> dict[str, str]:
        """Versions of the libraries this flavour's weights depend on."""
