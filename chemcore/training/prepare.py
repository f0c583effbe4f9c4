"""Turn (SMILES, targets) into a feature matrix and encoded targets, counting every row left out and why.

Rows are left out only for stated reasons (unparsable SMILES, standardisation failure, featurisation
failure, missing or non-numeric target), and the counts travel with the result into the manifest, so
nothing is dropped silently. Class labels are encoded as indices into a sorted `classes` list.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..featurisers import Featuriser
from ..package.fingerprint import data_fingerprint
from ..standardise import StandardiseOptions, standardise_batch

TASKS = ("regression", "classification")


@dataclass
class PreparedData:
    """Usable rows only: `smiles` (as featurised), `X` float32, `y` (floats or class indices), `labels`."""

    smiles: list[str]
    X: np.ndarray
    y: np.ndarray
    labels: list[Any]
    classes: list[Any] | None
    fingerprint: str
    dropped: dict[str, int] = field(default_factory=dict)
    n_input: int = 0


def check_task(task: str) -> str:
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; expected one of {', '.join(TASKS)}")
    return task


def _missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    return isinstance(value, float | np.floating) and math.isnan(value)


def _regression_target(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _label(value: Any) -> Any:
    """Class labels as JSON-friendly scalars (NumPy scalars unwrapped; "1"/"1.0" stay strings)."""
    return value.item() if isinstance(value, np.generic) else value


def _sort_key(label: Any) -> tuple[str, Any]:
    return (type(label).__name__, label)


def prepare_data(
    smiles: Sequence[str],
    y: Sequence[Any],
    *,
    task: str,
    featuriser: Featuriser,
    standardisation: StandardiseOptions | None = None,
    assume_standardised: bool = False,
) -> PreparedData:
    """Standardise (optional), featurise, check targets; see the module docstring.

    `assume_standardised`: the SMILES were already standardised with `standardisation` (a library's
    shards hold such SMILES), so they are used as they are.
    """
    check_task(task)
    if len(smiles) != len(y):
        raise ValueError(f"{len(smiles)} SMILES but {len(y)} targets")
    dropped: Counter[str] = Counter()
    keep = np.ones(len(smiles), dtype=bool)
    used = [s if isinstance(s, str) else "" for s in smiles]
    if standardisation is not None and not assume_standardised:
        for i, result in enumerate(standardise_batch(used, standardisation)):
            if result.ok:
                used[i] = result.smiles
            else:
                keep[i] = False
                dropped["standardisation failed" if used[i] else "empty SMILES"] += 1
    targets: list[Any] = [None] * len(y)
    for i, value in enumerate(y):
        if not keep[i]:
            continue
        if _missing(value):
            keep[i] = False
            dropped["missing target"] += 1
        elif task == "regression":
            targets[i] = _regression_target(value)
            if targets[i] is None:
                keep[i] = False
                dropped["non-numeric target"] += 1
        else:
            targets[i] = _label(value)
    batch = featuriser.featurise_smiles([s if k else None for s, k in zip(used, keep, strict=True)])
    bad = keep & ~batch.valid
    for i in np.flatnonzero(bad):
        dropped["empty SMILES" if not used[i] else "unparsable SMILES"] += 1
    keep &= batch.valid
    rows = np.flatnonzero(keep)
    if len(rows) < 2:
        raise ValueError(f"only {len(rows)} usable records (left out: {dict(dropped) or 'none'})")
    kept_smiles = [used[i] for i in rows]
    labels = [targets[i] for i in rows]
    classes: list[Any] | None = None
    if task == "classification":
        classes = sorted(set(labels), key=_sort_key)
        if len(classes) < 2:
            raise ValueError(f"classification needs at least two classes; found {classes}")
        index = {c: k for k, c in enumerate(classes)}
        values = np.asarray([index[c] for c in labels], dtype=np.int64)
    else:
        values = np.asarray(labels, dtype=np.float64)
    return PreparedData(
        smiles=kept_smiles,
        X=batch.X[rows],
        y=values,
        labels=labels,
        classes=classes,
        fingerprint=data_fingerprint(kept_smiles, labels),
        dropped=dict(dropped),
        n_input=len(smiles),
    )


def featuriser_spec_of(spec: Mapping[str, Any] | None) -> dict[str, Any]:
    return dict(spec) if spec is not None else dict(DEFAULT_FEATURISER)


DEFAULT_FEATURISER: dict[str, Any] = {"type": "morgan", "radius": 2, "n_bits": 2048}
