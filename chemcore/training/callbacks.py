"""The reporting protocol HPO pruning hooks into: `report(step, value) -> bool` (True means stop).

Trainers call it once per epoch (MLPs), per batch of trees (forests) or per fold (cross-validation)
with the monitored metric on held-out data. `Monitor` computes that metric through the same flavour
code the Predictor uses, keeps the history, and evaluates nothing when no callback is given.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from ..metrics import classification_metrics, regression_metrics
from ..package.flavours import get_flavour


class Reporter(Protocol):
    def __call__(self, step: int, value: float) -> bool:
        """Receive an intermediate value; return True to stop (or prune) training."""
        ...


def score(flavour: str, task: str, model: Any, X: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """All metrics of `model` on (X, y); y holds values (regression) or class indices (classification)."""
    out = get_flavour(flavour).predict(model, X, task=task)
    if task == "classification":
        return classification_metrics(y, out.probabilities)
    return regression_metrics(y, out.value)


class Monitor:
    """Scores the model on held-out data at each step and forwards the chosen metric to the callback."""

    def __init__(
        self,
        callback: Reporter | None,
        *,
        flavour: str,
        task: str,
        metric: str,
        X: np.ndarray,
        y: np.ndarray,
    ) -> None:
        self.callback = callback
        self.flavour, self.task, self.metric = flavour, task, metric
        self.X, self.y = X, y
        self.history: list[tuple[int, float]] = []
        self.stopped_at: int | None = None

    @property
    def enabled(self) -> bool:
        return self.callback is not None

    def __call__(self, step: int, model: Any) -> bool:
        """Report `step`; True when the callback asks to stop."""
        if self.callback is None:
            return False
        value = float(score(self.flavour, self.task, model, self.X, self.y)[self.metric])
        self.history.append((step, value))
        stop = bool(self.callback(step, value))
        if stop:
            self.stopped_at = step
        return stop
