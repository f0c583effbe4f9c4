"""Hyper-parameters per model family: names, types, ranges and defaults, validated before any fitting.

An unknown name or a wrong type is a `ValueError` naming it (a typo in an HPO search space must fail
the trial at once, not silently train with the default). Defaults:

rf (scikit-learn RandomForest{Regressor,Classifier}):
    n_estimators=300, max_depth=None, min_samples_split=2, min_samples_leaf=1,
    max_features=1.0 (regression) / "sqrt" (classification), bootstrap=True, max_samples=None,
    class_weight=None (classification only: "balanced" | "balanced_subsample"), n_jobs=1,
    trees_per_report=None (→ n_estimators // 10, at least 1; only used when a callback is given)
torch_mlp (PyTorch, CPU):
    hidden_layers=[512, 128], dropout=0.2, lr=1e-3, weight_decay=1e-5 (AdamW, decoupled),
    epochs=50, batch_size=64, activation="relu" (relu|gelu|tanh|silu), input_scaling="auto",
    num_threads=None
    (None: leave torch's setting), deterministic=True (torch.use_deterministic_algorithms while training)
keras_mlp (Keras 3 on TensorFlow, CPU):
    hidden_layers=[512, 128], dropout=0.2, lr=1e-3, weight_decay=1e-5 (AdamW), epochs=50,
    batch_size=64, activation="relu" (relu|gelu|tanh|silu), input_scaling="auto"
input_scaling: "standard" (z-score with the training mean/std), "none", or "auto" → "standard" for
    RDKit descriptors and "none" for fingerprints (z-scoring rare bits turns an unseen bit into a huge
    input); the resolved value is what gets recorded.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

FAMILIES = ("rf", "torch_mlp", "keras_mlp")
FLAVOUR_OF = {"rf": "sklearn", "torch_mlp": "pytorch", "keras_mlp": "keras"}
ACTIVATIONS = ("relu", "gelu", "tanh", "silu")

Check = Callable[[str, Any], Any]


def _int(lo: int, hi: int | None = None, *, optional: bool = False) -> Check:
    def check(name: str, value: Any) -> Any:
        if value is None and optional:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"parameter {name!r} must be an integer{' or null' if optional else ''}, not {value!r}")
        if value < lo or (hi is not None and value > hi):
            upper = hi if hi is not None else "∞"
            raise ValueError(f"parameter {name!r} must be between {lo} and {upper}, not {value}")
        return int(value)

    return check


def _float(lo: float, hi: float, *, lo_open: bool = False, hi_open: bool = False, optional: bool = False) -> Check:
    def check(name: str, value: Any) -> Any:
        if value is None and optional:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"parameter {name!r} must be a number{' or null' if optional else ''}, not {value!r}")
        value = float(value)
        if value < lo or value > hi or (lo_open and value == lo) or (hi_open and value == hi):
            left, right = "(" if lo_open else "[", ")" if hi_open else "]"
            raise ValueError(f"parameter {name!r} must be in {left}{lo}, {hi}{right}, not {value}")
        return value

    return check


def _bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"parameter {name!r} must be true or false, not {value!r}")
    return value


def _choice(*options: Any) -> Check:
    def check(name: str, value: Any) -> Any:
        if value not in options:
            raise ValueError(f"parameter {name!r} must be one of {', '.join(map(repr, options))}, not {value!r}")
        return value

    return check


def _layers(name: str, value: Any) -> list[int]:
    if not isinstance(value, list | tuple) or any(isinstance(h, bool) or not isinstance(h, int) for h in value):
        raise ValueError(f"parameter {name!r} must be a list of integers (layer widths), not {value!r}")
    if len(value) > 16 or any(not 1 <= h <= 65536 for h in value):
        raise ValueError(f"parameter {name!r} must hold at most 16 widths between 1 and 65536, not {value!r}")
    return [int(h) for h in value]


def _max_features(name: str, value: Any) -> Any:
    if value is None or value in ("sqrt", "log2"):
        return value
    if isinstance(value, float):
        return _float(0.0, 1.0, lo_open=True)(name, value)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    raise ValueError(f"parameter {name!r} must be 'sqrt', 'log2', null, a fraction in (0, 1] or a count ≥ 1")


_MLP: dict[str, tuple[Any, Check]] = {
    "hidden_layers": ([512, 128], _layers),
    "dropout": (0.2, _float(0.0, 1.0, hi_open=True)),
    "lr": (1e-3, _float(0.0, 10.0, lo_open=True)),
    "weight_decay": (1e-5, _float(0.0, 10.0)),
    "epochs": (50, _int(1, 100_000)),
    "batch_size": (64, _int(1, 1 << 20)),
    "activation": ("relu", _choice(*ACTIVATIONS)),
    "input_scaling": ("auto", _choice("auto", "standard", "none")),
}

SCHEMAS: dict[str, dict[str, tuple[Any, Check]]] = {
    "rf": {
        "n_estimators": (300, _int(1, 100_000)),
        "max_depth": (None, _int(1, optional=True)),
        "min_samples_split": (2, _int(2)),
        "min_samples_leaf": (1, _int(1)),
        "max_features": ("task", _max_features),
        "bootstrap": (True, _bool),
        "max_samples": (None, _float(0.0, 1.0, lo_open=True, optional=True)),
        "class_weight": (None, _choice(None, "balanced", "balanced_subsample")),
        "n_jobs": (1, _int(-1)),
        "trees_per_report": (None, _int(1, optional=True)),
    },
    "torch_mlp": {
        **_MLP,
        "num_threads": (None, _int(1, 1024, optional=True)),
        "deterministic": (True, _bool),
    },
    "keras_mlp": dict(_MLP),
}


def check_family(family: str) -> str:
    if family not in FAMILIES:
        raise ValueError(f"unknown model family {family!r}; expected one of {', '.join(FAMILIES)}")
    return family


def default_params(family: str, task: str) -> dict[str, Any]:
    """The defaults for a family and task (the values used for every parameter not given)."""
    out = {name: default for name, (default, _) in SCHEMAS[check_family(family)].items()}
    if family == "rf":
        out["max_features"] = "sqrt" if task == "classification" else 1.0
    return out


def validate_params(
    family: str, task: str, params: Mapping[str, Any] | None, featuriser_type: str | None = None
) -> dict[str, Any]:
    """Defaults filled in and every given value checked; `ValueError` naming the offending parameter.

    `featuriser_type` resolves `input_scaling="auto"` for the MLP families.
    """
    schema = SCHEMAS[check_family(family)]
    if params is not None and not isinstance(params, Mapping):
        raise ValueError(f"params must be a JSON object, not {type(params).__name__}")
    given = dict(params or {})
    unknown = sorted(set(given) - set(schema))
    if unknown:
        raise ValueError(f"unknown parameter(s) for {family}: {', '.join(unknown)}; known: {', '.join(sorted(schema))}")
    out = default_params(family, task)
    for name, value in given.items():
        out[name] = schema[name][1](name, value)
    if family == "rf":
        if out["n_jobs"] == 0:
            raise ValueError("parameter 'n_jobs' must be -1 or a positive integer, not 0")
        if out["class_weight"] is not None and task != "classification":
            raise ValueError("parameter 'class_weight' applies to classification only")
        if out["max_samples"] is not None and not out["bootstrap"]:
            raise ValueError("parameter 'max_samples' needs bootstrap=true")
    elif out["input_scaling"] == "auto" and featuriser_type is not None:
        out["input_scaling"] = "standard" if featuriser_type in ("rdkit2d", "descriptors") else "none"
    return out
