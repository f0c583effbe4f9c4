"""Train the package's PyTorch MLP on CPU: AdamW, seeded shuffling, deterministic kernels by default.

With input_scaling="standard", inputs are standardised with the training set's mean/std (constant
columns keep scale 1; with "none" the buffers stay 0/1) and, for
regression, the loss is computed on standardised targets; both scalings are buffers of the module, so
the saved model maps raw features to raw targets. Global torch settings changed here (deterministic
algorithms, thread count) are restored afterwards.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from ..package.flavours.torch_mlp import MLP
from .callbacks import Monitor


@contextlib.contextmanager
def torch_settings(*, deterministic: bool, num_threads: int | None) -> Iterator[None]:
    previous_det = torch.are_deterministic_algorithms_enabled()
    previous_threads = torch.get_num_threads()
    try:
        if deterministic:
            torch.use_deterministic_algorithms(True)
        if num_threads:
            torch.set_num_threads(num_threads)
        yield
    finally:
        torch.use_deterministic_algorithms(previous_det)
        if num_threads:
            torch.set_num_threads(previous_threads)


def _scale(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = values.mean(axis=0, dtype=np.float64)
    std = values.std(axis=0, dtype=np.float64)
    std[~(std > 1e-8)] = 1.0
    return mean.astype(np.float32), std.astype(np.float32)


def fit_torch_mlp(
    X: np.ndarray,
    y: np.ndarray,
    *,
    task: str,
    n_classes: int | None,
    params: dict[str, Any],
    seed: int,
    monitor: Monitor | None,
) -> tuple[MLP, int]:
    """Fit; returns (model in eval mode, epochs run). `y`: float targets or class indices."""
    with torch_settings(deterministic=params["deterministic"], num_threads=params["num_threads"]):
        torch.manual_seed(seed)
        classification = task == "classification"
        model = MLP(
            X.shape[1],
            params["hidden_layers"],
            n_classes if classification else 1,
            params["dropout"],
            params["activation"],
            "logits" if classification else "regression",
        )
        if params["input_scaling"] == "standard":
            x_mean, x_scale = _scale(X)
            model.x_mean.copy_(torch.from_numpy(x_mean))
            model.x_scale.copy_(torch.from_numpy(x_scale))
        features = torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32))
        if classification:
            targets = torch.from_numpy(np.asarray(y, dtype=np.int64))
            loss_fn: Any = torch.nn.CrossEntropyLoss()
        else:
            y_mean, y_scale = _scale(np.asarray(y, dtype=np.float64).reshape(-1, 1))
            model.y_mean.copy_(torch.from_numpy(y_mean))
            model.y_scale.copy_(torch.from_numpy(y_scale))
            targets = torch.from_numpy(np.asarray(y, dtype=np.float32).reshape(-1, 1))
            scale = float(y_scale[0])

            def loss_fn(pred: torch.Tensor, true: torch.Tensor) -> torch.Tensor:
                return torch.mean(((pred - true) / scale) ** 2)

        optimiser = torch.optim.AdamW(model.parameters(), lr=params["lr"], weight_decay=params["weight_decay"])
        generator = torch.Generator().manual_seed(seed)
        n, batch = len(features), params["batch_size"]
        epochs_run = 0
        for epoch in range(1, params["epochs"] + 1):
            model.train()
            order = torch.randperm(n, generator=generator)
            for start in range(0, n, batch):
                idx = order[start : start + batch]
                optimiser.zero_grad(set_to_none=True)
                loss = loss_fn(model(features[idx]), targets[idx])
                loss.backward()
                optimiser.step()
            model.eval()
            epochs_run = epoch
            if monitor is not None and monitor(epoch, model):
                break
        model.eval()
        return model, epochs_run
