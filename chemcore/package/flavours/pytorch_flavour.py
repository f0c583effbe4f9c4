"""PyTorch models saved as a `state_dict` (tensors only) and rebuilt from the manifest's architecture.

Loading uses `torch.load(..., weights_only=True)`: the file can only hold tensors and plain containers,
so opening a package never runs code from it. Only the MLP in `torch_mlp` can be packaged.
"""

from __future__ import annotations

import io
import platform
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import PackageError
from .base import Flavour, RawOutput, SavedWeights, classifier_value
from .torch_mlp import MLP, mlp_from_architecture


class PytorchFlavour(Flavour):
    name = "pytorch"
    weights_file = "model.pt"

    def save(self, model: Any, directory: Path, *, task: str, n_classes: int | None) -> SavedWeights:
        if not isinstance(model, MLP):
            raise PackageError(f"pytorch flavour packages {MLP.__module__}.MLP models, not {type(model).__name__}")
        arch = model.architecture()
        expected = ("logits", n_classes) if task == "classification" else ("regression", 1)
        if (arch["output"], arch["n_outputs"]) != expected:
            raise PackageError(
                f"MLP output {arch['output']!r} with {arch['n_outputs']} outputs does not fit task {task!r}"
            )
        state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
        torch.save(state, directory / self.weights_file)
        return SavedWeights([self.weights_file], architecture=arch, n_features=arch["n_inputs"])

    def load(
        self, blobs: Mapping[str, bytes], *, task: str, n_classes: int | None, architecture: Mapping[str, Any] | None
    ) -> Any:
        if architecture is None:
            raise PackageError("a pytorch package needs an 'architecture' in its manifest")
        try:
            model = mlp_from_architecture(architecture)
        except ValueError as exc:
            raise PackageError(f"manifest 'architecture' is invalid: {exc}") from exc
        try:
            state = torch.load(io.BytesIO(blobs[self.weights_file]), map_location="cpu", weights_only=True)
        except Exception as exc:
            raise PackageError(f"{self.weights_file} could not be loaded as tensors: {exc}") from exc
        if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
            raise PackageError(f"{self.weights_file} is not a state_dict of tensors")
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise PackageError(f"{self.weights_file} does not match the architecture: {exc}") from exc
        model.eval()
        return model

    def predict(self, model: Any, X: np.ndarray, *, task: str) -> RawOutput:
        with torch.inference_mode():
            out = model(torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32)))
            if task == "classification":
                probabilities = torch.softmax(out.double(), dim=1).numpy()
                return RawOutput(classifier_value(probabilities), None, probabilities)
            return RawOutput(out[:, 0].double().numpy())

    def n_features(self, model: Any) -> int | None:
        return int(model.config["n_inputs"])

    def library_versions(self) -> dict[str, str]:
        return {"torch": torch.__version__, "python": platform.python_version()}


FLAVOUR = PytorchFlavour()
