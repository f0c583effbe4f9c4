"""Train an MLP in Keras 3 (TensorFlow backend, CPU) with built-in layers only, so it loads in safe mode.

Layout: Normalization (input_scaling="standard" only: training mean/variance; constant columns get
variance 1) → Dense+Dropout per
hidden layer → Dense output (1 value, rescaled to the target's units by a Rescaling layer, or class
logits). Seeded with `keras.utils.set_random_seed`; TensorFlow op determinism is switched on for the
process (it cannot be switched off again; it only affects speed of some GPU/parallel kernels).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from .callbacks import Monitor


def fit_keras_mlp(
    X: np.ndarray,
    y: np.ndarray,
    *,
    task: str,
    n_classes: int | None,
    params: dict[str, Any],
    seed: int,
    monitor: Monitor | None,
) -> tuple[Any, int]:
    """Fit; returns (keras.Model mapping raw features to raw targets / logits, epochs run)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    classification = task == "classification"
    X = np.ascontiguousarray(X, dtype=np.float32)
    inputs = keras.Input(shape=(X.shape[1],), name="features")
    h = inputs
    if params["input_scaling"] == "standard":
        variance = X.var(axis=0, dtype=np.float64)
        variance[~(variance > 1e-16)] = 1.0
        h = keras.layers.Normalization(mean=X.mean(axis=0, dtype=np.float64), variance=variance)(h)
    for i, width in enumerate(params["hidden_layers"]):
        h = keras.layers.Dense(width, activation=params["activation"], name=f"dense_{i}")(h)
        if params["dropout"] > 0:
            h = keras.layers.Dropout(params["dropout"], seed=seed + i)(h)
    raw = keras.layers.Dense(n_classes if classification else 1, name="output")(h)
    trainer = keras.Model(inputs, raw)
    if classification:
        model = trainer
        targets = np.asarray(y, dtype=np.int64)
        loss: Any = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    else:
        values = np.asarray(y, dtype=np.float64)
        y_mean, y_std = float(values.mean()), float(values.std()) or 1.0
        model = keras.Model(inputs, keras.layers.Rescaling(scale=y_std, offset=y_mean, name="to_target_units")(raw))
        targets = ((values - y_mean) / y_std).astype(np.float32)
        loss = "mse"
    optimizer = keras.optimizers.AdamW(learning_rate=params["lr"], weight_decay=params["weight_decay"])
    trainer.compile(optimizer=optimizer, loss=loss)

    class Report(keras.callbacks.Callback):
        epochs_run = 0

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            Report.epochs_run = epoch + 1
            if monitor is not None and monitor(epoch + 1, model):
                self.model.stop_training = True

    trainer.fit(
        X,
        targets,
        epochs=params["epochs"],
        batch_size=params["batch_size"],
        shuffle=True,
        verbose=0,
        callbacks=[Report()],
    )
    return model, Report.epochs_run
