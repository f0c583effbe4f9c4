"""Keras 3 models saved in the native `.keras` format and loaded with `safe_mode=True`.

Safe mode refuses to deserialise Lambda layers and other arbitrary code; only built-in layers load.
Classifiers may end in logits (preferred: the softmax is then taken in float64) or a softmax layer;
which one is recorded in the manifest's `architecture.output`. TensorFlow is imported only here.
"""

from __future__ import annotations

import os
import platform
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import PackageError
from .base import Flavour, RawOutput, SavedWeights, classifier_value

OUTPUTS = ("regression", "logits", "probabilities")


def _keras() -> Any:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    return keras


def _softmax64(logits: np.ndarray) -> np.ndarray:
    z = logits.astype(np.float64)
    z -= z.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z


class KerasFlavour(Flavour):
    name = "keras"
    weights_file = "model.keras"

    def save(self, model: Any, directory: Path, *, task: str, n_classes: int | None) -> SavedWeights:
        keras = _keras()
        if not isinstance(model, keras.Model):
            raise PackageError(f"keras flavour needs a keras.Model, not {type(model).__name__}")
        n_outputs = int(model.output_shape[-1])
        if task == "classification":
            if n_outputs != n_classes:
                raise PackageError(f"Keras model has {n_outputs} outputs; the manifest lists {n_classes} classes")
            activation = getattr(model.layers[-1], "activation", None)
            output = "probabilities" if getattr(activation, "__name__", "") == "softmax" else "logits"
        else:
            if n_outputs != 1:
                raise PackageError(f"a Keras regression model needs 1 output, not {n_outputs}")
            output = "regression"
        model.save(directory / self.weights_file)
        return SavedWeights([self.weights_file], architecture={"output": output}, n_features=self.n_features(model))

    def load(
        self, blobs: Mapping[str, bytes], *, task: str, n_classes: int | None, architecture: Mapping[str, Any] | None
    ) -> Any:
        keras = _keras()
        output = (architecture or {}).get("output")
        if output not in OUTPUTS:
            raise PackageError(f"a keras package needs architecture.output in {OUTPUTS}, not {output!r}")
        # Keras reads .keras archives from a path: write the verified bytes to a private temporary file.
        with tempfile.TemporaryDirectory(prefix="keras-load-") as tmp:
            path = Path(tmp) / self.weights_file
            path.write_bytes(blobs[self.weights_file])
            try:
                model = keras.saving.load_model(path, compile=False, safe_mode=True)
            except Exception as exc:
                raise PackageError(f"{self.weights_file} could not be loaded (safe mode): {exc}") from exc
        model._package_output = output  # how predict() turns outputs into values
        return model

    def predict(self, model: Any, X: np.ndarray, *, task: str) -> RawOutput:
        out = np.asarray(model.predict_on_batch(np.ascontiguousarray(X, dtype=np.float32)))
        if task == "classification":
            if getattr(model, "_package_output", "logits") == "logits":
                probabilities = _softmax64(out)
            else:
                probabilities = out.astype(np.float64)
                probabilities /= probabilities.sum(axis=1, keepdims=True)
            return RawOutput(classifier_value(probabilities), None, probabilities)
        return RawOutput(out[:, 0].astype(np.float64))

    def n_features(self, model: Any) -> int | None:
        shape = getattr(model, "input_shape", None)
        return None if not shape or shape[-1] is None else int(shape[-1])

    def library_versions(self) -> dict[str, str]:
        keras = _keras()
        import tensorflow as tf

        return {
            "keras": keras.__version__,
            "keras_backend": keras.backend.backend(),
            "tensorflow": tf.__version__,
            "python": platform.python_version(),
        }


FLAVOUR = KerasFlavour()
