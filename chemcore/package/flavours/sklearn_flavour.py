"""scikit-learn models saved with skops.io (no pickle), loaded with an explicit list of trusted types.

skops trusts plain scikit-learn estimators and NumPy arrays by default; anything else in the file must
be named in `TRUSTED_TYPES` or loading is refused with the offending type names. Forests report the
standard deviation of their trees' predictions as uncertainty.
"""

from __future__ import annotations

import platform
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import PackageError
from .base import Flavour, RawOutput, SavedWeights, classifier_value, value_column

# Types outside skops' default trust that our estimators need. Keep this list short and specific.
TRUSTED_TYPES = ("sklearn.tree._tree.Tree",)
_FOREST_CLASSES = (
    "RandomForestRegressor",
    "RandomForestClassifier",
    "ExtraTreesRegressor",
    "ExtraTreesClassifier",
)


def _is_forest(model: Any) -> bool:
    return type(model).__name__ in _FOREST_CLASSES and hasattr(model, "estimators_")


class SklearnFlavour(Flavour):
    name = "sklearn"
    weights_file = "model.skops"

    def save(self, model: Any, directory: Path, *, task: str, n_classes: int | None) -> SavedWeights:
        import skops.io as sio
        from sklearn.base import is_classifier

        if not hasattr(model, "predict"):
            raise PackageError(f"sklearn flavour needs a fitted estimator, not {type(model).__name__}")
        if task == "classification":
            if not is_classifier(model) or not hasattr(model, "predict_proba"):
                raise PackageError(f"{type(model).__name__} is not a probabilistic classifier")
            if len(model.classes_) != n_classes:
                raise PackageError(f"model has {len(model.classes_)} classes; the manifest lists {n_classes}")
        elif is_classifier(model):
            raise PackageError(f"{type(model).__name__} is a classifier; the task is regression")
        sio.dump(model, directory / self.weights_file)
        return SavedWeights([self.weights_file], n_features=self.n_features(model))

    def load(
        self, blobs: Mapping[str, bytes], *, task: str, n_classes: int | None, architecture: Mapping[str, Any] | None
    ) -> Any:
        import skops.io as sio

        data = blobs[self.weights_file]
        try:
            untrusted = sio.get_untrusted_types(data=data)
        except Exception as exc:
            raise PackageError(f"{self.weights_file} is not a readable skops file: {exc}") from exc
        refused = sorted(set(untrusted) - set(TRUSTED_TYPES))
        if refused:
            raise PackageError(f"{self.weights_file} holds types that are not trusted: {', '.join(refused)}")
        try:
            model = sio.loads(data, trusted=list(TRUSTED_TYPES))
        except Exception as exc:
            raise PackageError(f"{self.weights_file} could not be loaded: {exc}") from exc
        if task == "classification" and len(getattr(model, "classes_", ())) != n_classes:
            raise PackageError(f"{self.weights_file}: model classes do not match the manifest's {n_classes} classes")
        return model

    def predict(self, model: Any, X: np.ndarray, *, task: str) -> RawOutput:
        X = np.ascontiguousarray(X, dtype=np.float32)
        if _is_forest(model):
            return _forest_predict(model, X, task)
        if task == "classification":
            probabilities = np.asarray(model.predict_proba(X), dtype=np.float64)
            return RawOutput(classifier_value(probabilities), None, probabilities)
        return RawOutput(np.asarray(model.predict(X), dtype=np.float64).reshape(len(X)))

    def n_features(self, model: Any) -> int | None:
        n = getattr(model, "n_features_in_", None)
        return None if n is None else int(n)

    def library_versions(self) -> dict[str, str]:
        import sklearn
        import skops

        return {"sklearn": sklearn.__version__, "skops": skops.__version__, "python": platform.python_version()}


def _forest_predict(model: Any, X: np.ndarray, task: str) -> RawOutput:
    """Per-tree predictions → mean (accumulated in the order sklearn uses, so equal to `model.predict`)
    and the standard deviation over trees."""
    trees = model.estimators_
    if task == "classification":
        per_tree = np.stack([t.predict_proba(X, check_input=False) for t in trees])  # (T, n, k)
        probabilities = np.zeros(per_tree.shape[1:], dtype=np.float64)
        for p in per_tree:
            probabilities += p
        probabilities /= len(trees)
        column = value_column(probabilities)
        rows = np.arange(len(X))
        uncertainty = per_tree[:, rows, column].std(axis=0)
        return RawOutput(classifier_value(probabilities), uncertainty, probabilities)
    per_tree = np.stack([t.predict(X, check_input=False) for t in trees])  # (T, n)
    value = np.zeros(len(X), dtype=np.float64)
    for p in per_tree:
        value += p
    value /= len(trees)
    return RawOutput(value, per_tree.std(axis=0))


FLAVOUR = SklearnFlavour()
