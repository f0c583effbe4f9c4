"""Model metrics in plain NumPy (no scikit-learn import on the serving path), checked against sklearn/scipy.

Regression: RMSE, MAE, R², Spearman rho. Classification: ROC-AUC, PR-AUC (average precision, as
sklearn's `average_precision_score`), accuracy; multi-class AUCs are macro one-vs-rest averages.
An undefined metric (one class only, constant values) is NaN rather than an exception, so a fold with
an unlucky split still reports the rest.
"""

from __future__ import annotations

import math

import numpy as np

REGRESSION_METRICS = ("rmse", "mae", "r2", "spearman")
CLASSIFICATION_METRICS = ("roc_auc", "pr_auc", "accuracy")
DIRECTIONS = {
    "rmse": "minimize",
    "mae": "minimize",
    "r2": "maximize",
    "spearman": "maximize",
    "roc_auc": "maximize",
    "pr_auc": "maximize",
    "accuracy": "maximize",
}
DEFAULT_METRIC = {"regression": "rmse", "classification": "roc_auc"}


def _pair(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(y_true, dtype=np.float64).ravel()
    b = np.asarray(y_pred, dtype=np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(f"{a.size} true values but {b.size} predictions")
    return a, b


def rmse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    a, b = _pair(y_true, y_pred)
    return float(np.sqrt(np.mean((a - b) ** 2))) if a.size else math.nan


def mae(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    a, b = _pair(y_true, y_pred)
    return float(np.mean(np.abs(a - b))) if a.size else math.nan


def r2(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Coefficient of determination; NaN when the true values are constant (undefined)."""
    a, b = _pair(y_true, y_pred)
    ss_tot = float(np.sum((a - a.mean()) ** 2)) if a.size else 0.0
    if ss_tot == 0.0:
        return math.nan
    return 1.0 - float(np.sum((a - b) ** 2)) / ss_tot


def average_ranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks, ties sharing their average rank (scipy's `rankdata(method="average")`)."""
    x = np.asarray(x).ravel()
    order = np.argsort(x, kind="mergesort")
    sorted_x = x[order]
    first = np.r_[True, sorted_x[1:] != sorted_x[:-1]]
    dense = np.cumsum(first)
    bounds = np.r_[np.flatnonzero(first), x.size]
    ranks = np.empty(x.size, dtype=np.float64)
    ranks[order] = 0.5 * (bounds[dense] + bounds[dense - 1] + 1)
    return ranks


def spearman(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Spearman's rho: Pearson correlation of average ranks; NaN if either side is constant."""
    a, b = _pair(y_true, y_pred)
    if a.size < 2:
        return math.nan
    ra, rb = average_ranks(a), average_ranks(b)
    ra -= ra.mean()
    rb -= rb.mean()
    denom = math.sqrt(float(np.dot(ra, ra)) * float(np.dot(rb, rb)))
    return float(np.dot(ra, rb)) / denom if denom > 0 else math.nan


def _binary(y_true: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true).ravel().astype(bool)
    s = np.asarray(score, dtype=np.float64).ravel()
    if y.shape != s.shape:
        raise ValueError(f"{y.size} labels but {s.size} scores")
    return y, s


def roc_auc_binary(y_true: np.ndarray, score: np.ndarray) -> float:
    """ROC-AUC via the Mann-Whitney statistic with mid-ranks (equal to the trapezoidal ROC area)."""
    y, s = _binary(y_true, score)
    n_pos = int(y.sum())
    n_neg = y.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return math.nan
    ranks = average_ranks(s)
    return (float(ranks[y].sum()) - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def average_precision_binary(y_true: np.ndarray, score: np.ndarray) -> float:
    """Sum of (R_n - R_{n-1}) * P_n over distinct score thresholds, high to low (sklearn's definition)."""
    y, s = _binary(y_true, score)
    if not y.any():
        return math.nan
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    last_of_value = np.r_[np.flatnonzero(np.diff(s)), y.size - 1]
    tps = np.cumsum(y)[last_of_value]
    fps = last_of_value + 1 - tps
    precision = tps / (tps + fps)
    recall = tps / tps[-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def _one_vs_rest(metric, y_idx: np.ndarray, probabilities: np.ndarray) -> float:
    if probabilities.shape[1] == 2:
        return metric(y_idx == 1, probabilities[:, 1])
    values = [metric(y_idx == k, probabilities[:, k]) for k in range(probabilities.shape[1]) if (y_idx == k).any()]
    values = [v for v in values if not math.isnan(v)]
    return float(np.mean(values)) if values else math.nan


def roc_auc(y_idx: np.ndarray, probabilities: np.ndarray) -> float:
    """Binary (column 1 is the positive class) or macro one-vs-rest ROC-AUC."""
    return _one_vs_rest(roc_auc_binary, np.asarray(y_idx).ravel(), np.asarray(probabilities, dtype=np.float64))


def pr_auc(y_idx: np.ndarray, probabilities: np.ndarray) -> float:
    """Binary or macro one-vs-rest average precision."""
    return _one_vs_rest(
        average_precision_binary, np.asarray(y_idx).ravel(), np.asarray(probabilities, dtype=np.float64)
    )


def accuracy(y_idx: np.ndarray, probabilities: np.ndarray) -> float:
    y = np.asarray(y_idx).ravel()
    return float(np.mean(np.asarray(probabilities).argmax(axis=1) == y)) if y.size else math.nan


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    return {
        "rmse": rmse(y_true, y_pred),
        "mae": mae(y_true, y_pred),
        "r2": r2(y_true, y_pred),
        "spearman": spearman(y_true, y_pred),
        "n": int(np.asarray(y_true).size),
    }


def classification_metrics(y_idx: np.ndarray, probabilities: np.ndarray) -> dict[str, float]:
    """`y_idx` holds class indices (0..k-1), `probabilities` the (n, k) matrix in the same order."""
    return {
        "roc_auc": roc_auc(y_idx, probabilities),
        "pr_auc": pr_auc(y_idx, probabilities),
        "accuracy": accuracy(y_idx, probabilities),
        "n": int(np.asarray(y_idx).size),
    }


def is_better(metric: str, candidate: float, incumbent: float) -> bool:
    """Compare two values of `metric` in its direction (NaN is never better)."""
    if math.isnan(candidate):
        return False
    if math.isnan(incumbent):
        return True
    return candidate < incumbent if DIRECTIONS[metric] == "minimize" else candidate > incumbent
