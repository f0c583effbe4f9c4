"""The PyTorch MLP whose architecture a package describes in JSON, so it is rebuilt from code, not unpickled.

Input scaling (x_mean, x_scale) and, for regression, target scaling (y_mean, y_scale) are buffers, so
they travel in the `state_dict` with the weights and the model maps raw features to raw targets.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh, "silu": nn.SiLU}
OUTPUTS = ("regression", "logits")
ARCHITECTURE_KEYS = ("type", "n_inputs", "hidden_layers", "n_outputs", "dropout", "activation", "output")


class MLP(nn.Module):
    """Linear → activation → dropout per hidden layer, then a linear output (regression value or logits)."""

    def __init__(
        self,
        n_inputs: int,
        hidden_layers: Sequence[int],
        n_outputs: int,
        dropout: float = 0.0,
        activation: str = "relu",
        output: str = "regression",
    ) -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; expected one of {', '.join(ACTIVATIONS)}")
        if output not in OUTPUTS:
            raise ValueError(f"unknown output {output!r}; expected one of {', '.join(OUTPUTS)}")
        self.config = {
            "type": "mlp",
            "n_inputs": int(n_inputs),
            "hidden_layers": [int(h) for h in hidden_layers],
            "n_outputs": int(n_outputs),
            "dropout": float(dropout),
            "activation": activation,
            "output": output,
        }
        layers: list[nn.Module] = []
        previous = n_inputs
        for width in hidden_layers:
            layers += [nn.Linear(previous, width), ACTIVATIONS[activation]()]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            previous = width
        layers.append(nn.Linear(previous, n_outputs))
        self.net = nn.Sequential(*layers)
        self.register_buffer("x_mean", torch.zeros(n_inputs))
        self.register_buffer("x_scale", torch.ones(n_inputs))
        self.register_buffer("y_mean", torch.zeros(1))
        self.register_buffer("y_scale", torch.ones(1))
        self._regression = output == "regression"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.net((x - self.x_mean) / self.x_scale)
        if self._regression:
            out = out * self.y_scale + self.y_mean
        return out

    def architecture(self) -> dict[str, Any]:
        """The JSON description `mlp_from_architecture` rebuilds this module from."""
        return dict(self.config, hidden_layers=list(self.config["hidden_layers"]))


def mlp_from_architecture(arch: Mapping[str, Any]) -> MLP:
    """Rebuild an (untrained) MLP from its description; `ValueError` naming the bad key otherwise."""
    if not isinstance(arch, Mapping):
        raise ValueError("architecture must be a JSON object")
    unknown = sorted(set(arch) - set(ARCHITECTURE_KEYS))
    missing = sorted(set(ARCHITECTURE_KEYS) - set(arch))
    if unknown or missing:
        raise ValueError(f"architecture keys: unknown {unknown or 'none'}, missing {missing or 'none'}")
    if arch["type"] != "mlp":
        raise ValueError(f"architecture type {arch['type']!r} is not 'mlp'")
    for key in ("n_inputs", "n_outputs"):
        if isinstance(arch[key], bool) or not isinstance(arch[key], int) or arch[key] < 1:
            raise ValueError(f"architecture {key!r} must be a positive integer")
    hidden = arch["hidden_layers"]
    if not isinstance(hidden, list) or any(isinstance(h, bool) or not isinstance(h, int) or h < 1 for h in hidden):
        raise ValueError("architecture 'hidden_layers' must be a list of positive integers")
    dropout = arch["dropout"]
    if isinstance(dropout, bool) or not isinstance(dropout, int | float) or not 0 <= dropout < 1:
        raise ValueError("architecture 'dropout' must be a number in [0, 1)")
    return MLP(arch["n_inputs"], hidden, arch["n_outputs"], float(dropout), arch["activation"], arch["output"])
