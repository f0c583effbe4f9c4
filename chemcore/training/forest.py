"""Random forests (scikit-learn). With a callback, the forest grows in chunks (`warm_start`) and the
held-out metric is reported after each chunk; sklearn draws each tree's seed from `random_state` in
order, so a forest grown in chunks equals one grown at once with the same seed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .callbacks import Monitor


def build_forest(task: str, params: dict[str, Any], seed: int) -> Any:
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    kwargs = {
        "n_estimators": params["n_estimators"],
        "max_depth": params["max_depth"],
        "min_samples_split": params["min_samples_split"],
        "min_samples_leaf": params["min_samples_leaf"],
        "max_features": params["max_features"],
        "bootstrap": params["bootstrap"],
        "max_samples": params["max_samples"],
        "n_jobs": params["n_jobs"],
        "random_state": seed,
    }
    if task == "classification":
        return RandomForestClassifier(class_weight=params["class_weight"], **kwargs)
    return RandomForestRegressor(**kwargs)


def fit_forest(
    X: np.ndarray, y: np.ndarray, *, task: str, params: dict[str, Any], seed: int, monitor: Monitor | None
) -> tuple[Any, int]:
    """Fit; returns (forest, number of trees grown). Stops early when the monitor's callback says so."""
    model = build_forest(task, params, seed)
    total = params["n_estimators"]
    if monitor is None or not monitor.enabled:
        model.fit(X, y)
        return model, total
    chunk = params["trees_per_report"] or max(1, total // 10)
    model.set_params(warm_start=True)
    grown = 0
    while grown < total:
        grown = min(total, grown + chunk)
        model.set_params(n_estimators=grown)
        model.fit(X, y)
        if monitor(grown, model):
            break
    model.set_params(warm_start=False)
    return model, grown
