"""Spec dictionaries for the tests: a small valid spec to start from, and helpers to break it."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from experiments.core.spec import ExperimentSpec, SpecError, parse_spec

EXAMPLES = Path(__file__).resolve().parents[3] / "experiments" / "examples"

RF: dict[str, Any] = {
    "name": "egfr-rf",
    "dataset": {"location": "egfr_chembl_pic50.csv", "smiles_column": "smiles", "target": "pIC50"},
    "model": {"family": "rf"},
    "search_space": {
        "n_estimators": {"type": "int", "low": 100, "high": 500, "step": 100},
        "max_features": {"type": "categorical", "choices": ["sqrt", 0.5, 1.0]},
    },
    "budget": {"max_trials": 30},
}

CUSTOM: dict[str, Any] = {
    "name": "custom-image",
    "dataset": {"library": 7, "target": "pIC50"},
    "model": {"image": "registry.example.com/chem/gnn:1.4", "command": ["python", "-m", "gnn.train"]},
    "search_space": {
        "family": {"type": "categorical", "choices": ["x", "y"]},
        "depth": {"type": "int", "low": 2, "high": 8, "condition": {"param": "family", "equals": "x"}},
        "width": {"type": "categorical", "choices": [[64], [128, 64]], "condition": {"param": "family", "equals": "y"}},
        "lr": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True},
    },
    "objective": {"metric": "val_loss", "direction": "minimize"},
    "budget": {"max_trials": 30},
    "backend": {"type": "kubernetes"},
}


def spec_dict(base: dict[str, Any] | None = None, **changes: Any) -> dict[str, Any]:
    """A deep copy of `base` (default RF) with top-level fields replaced (None removes a field)."""
    out = copy.deepcopy(base if base is not None else RF)
    for key, value in changes.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def with_path(data: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    """A copy of `data` with the value at "a.b.c" set (missing mappings created)."""
    out = copy.deepcopy(data)
    *parents, last = dotted.split(".")
    node = out
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value
    return out


def build(data: Any) -> ExperimentSpec:
    return parse_spec(data)


def errors_of(data: Any) -> dict[str, str]:
    """field → message for an invalid spec (fails the test if the spec is valid)."""
    try:
        parse_spec(data)
    except SpecError as exc:
        return {e["field"]: e["message"] for e in exc.errors}
    raise AssertionError("the spec was accepted")
