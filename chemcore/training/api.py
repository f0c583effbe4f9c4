"""Fit a model family on (SMILES, target) data with a held-out split or k-fold CV, and package it.

`train_model` featurises once, splits (scaffold by default), fits on the training part and scores the
held-out part (that split doubles as the validation set HPO prunes on: keep an independent test set
outside if you need one). `train_and_package` writes a package whose metrics are those held-out ones;
by default the packaged model is the one trained on the training split (`refit=False`), so the
manifest's metrics describe exactly the model inside it. With `refit=True` the model is refit on all
usable rows with the same parameters (and the same number of epochs/trees if a callback stopped
training early); the metrics then estimate that procedure, and the manifest's `training` section says
so (`refit`, `n_fit`, `held_out_metrics`). The portal registers refit models.

`standardisation` standardises the SMILES before featurising (and is recorded in the package, so the
predictor does the same to its inputs); with `assume_standardised=True` the SMILES are taken as
already standardised with those options (a library's), and only recorded.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..featurisers import featuriser_from_spec
from ..metrics import DEFAULT_METRIC, DIRECTIONS
from ..package import Manifest, save_package
from ..splits import kfold, normalise_split_spec, scaffold_kfold, split_indices
from ..standardise import StandardiseOptions
from .callbacks import Monitor, Reporter, score
from .params import FLAVOUR_OF, check_family, validate_params
from .prepare import PreparedData, check_task, featuriser_spec_of, prepare_data


@dataclass
class TrainingResult:
    """A fitted model and how it was obtained; `metrics` are on the held-out split."""

    model_object: Any
    family: str
    flavour: str
    task: str
    metrics: dict[str, float]
    params: dict[str, Any]
    featuriser_spec: dict[str, Any]
    split: dict[str, Any]
    seed: int
    metric: str
    classes: list[Any] | None
    n_records: int
    n_train: int
    n_test: int
    dropped: dict[str, int]
    data_fingerprint: str
    standardisation: dict[str, Any] | None = None
    history: list[tuple[int, float]] = field(default_factory=list)
    stopped_early: bool = False
    steps_run: int = 0

    def training_info(self, *, refit: bool = False) -> dict[str, Any]:
        """The manifest's `training` section: `held_out_metrics` are always those of the model fitted
        on the `n_train` rows, scored on the `n_test` held-out ones; `n_fit` is how many rows the
        packaged model was fitted on (all of them when `refit`)."""
        return {
            "family": self.family,
            "split": self.split,
            "seed": self.seed,
            "metric": self.metric,
            "n_train": self.n_train,
            "n_test": self.n_test,
            "dropped": self.dropped,
            "history": [list(h) for h in self.history],
            "stopped_early": self.stopped_early,
            "steps_run": self.steps_run,
            "refit": refit,
            "n_fit": self.n_train + self.n_test if refit else self.n_train,
            "held_out_metrics": dict(self.metrics),
        }


@dataclass
class CVResult:
    """Per-fold held-out metrics, their mean and standard deviation."""

    fold_metrics: list[dict[str, float]]
    mean: dict[str, float]
    std: dict[str, float]
    metric: str
    params: dict[str, Any]
    stopped_early: bool = False
    dropped: dict[str, int] = field(default_factory=dict)


def _check_metric(task: str, metric: str | None) -> str:
    metric = metric or DEFAULT_METRIC[task]
    allowed = ("rmse", "mae", "r2", "spearman") if task == "regression" else ("roc_auc", "pr_auc", "accuracy")
    if metric not in allowed or metric not in DIRECTIONS:
        raise ValueError(f"metric for {task} must be one of {', '.join(allowed)}, not {metric!r}")
    return metric


def _check_seed(seed: int) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, not {seed!r}")
    return seed


def fit_family(
    family: str,
    X: np.ndarray,
    y: np.ndarray,
    *,
    task: str,
    n_classes: int | None,
    params: dict[str, Any],
    seed: int,
    monitor: Monitor | None = None,
) -> tuple[Any, int]:
    """Fit one family on (X, y); returns (model, steps run: trees or epochs)."""
    if family == "rf":
        from .forest import fit_forest

        return fit_forest(X, y, task=task, params=params, seed=seed, monitor=monitor)
    if family == "torch_mlp":
        from .torch_mlp import fit_torch_mlp

        return fit_torch_mlp(X, y, task=task, n_classes=n_classes, params=params, seed=seed, monitor=monitor)
    from .keras_mlp import fit_keras_mlp

    return fit_keras_mlp(X, y, task=task, n_classes=n_classes, params=params, seed=seed, monitor=monitor)


def _prepare(
    smiles: Sequence[str],
    y: Sequence[Any],
    task: str,
    family: str,
    params: Mapping[str, Any] | None,
    featuriser_spec: Mapping[str, Any] | None,
    standardisation: StandardiseOptions | None,
    assume_standardised: bool = False,
) -> tuple[dict[str, Any], dict[str, Any], PreparedData]:
    check_task(task)
    check_family(family)
    featuriser = featuriser_from_spec(featuriser_spec_of(featuriser_spec))
    checked = validate_params(family, task, params, featuriser.spec["type"])
    data = prepare_data(
        smiles,
        y,
        task=task,
        featuriser=featuriser,
        standardisation=standardisation,
        assume_standardised=assume_standardised,
    )
    return checked, featuriser.spec, data


def _check_classes_present(data: PreparedData, train: np.ndarray) -> None:
    if data.classes is None:
        return
    missing = sorted(set(range(len(data.classes))) - set(np.unique(data.y[train]).tolist()))
    if missing:
        names = ", ".join(repr(data.classes[k]) for k in missing)
        raise ValueError(f"class(es) {names} absent from the training split; use a random split or more data")


def train_model(
    *,
    smiles: Sequence[str],
    y: Sequence[Any],
    task: str,
    family: str,
    params: Mapping[str, Any] | None = None,
    featuriser_spec: Mapping[str, Any] | None = None,
    split: Mapping[str, Any] | None = None,
    seed: int = 0,
    callback: Reporter | None = None,
    metric: str | None = None,
    standardisation: StandardiseOptions | None = None,
    assume_standardised: bool = False,
) -> TrainingResult:
    """Fit `family` ("rf", "torch_mlp", "keras_mlp") and score it on the held-out split.

    `split`: {"kind": "scaffold"|"random", "test_fraction": 0.2, "seed": <seed>, "generic": false}.
    `callback(step, value) -> bool` receives `metric` (default rmse / roc_auc) on the held-out split
    per epoch or tree batch; returning True stops training there. `standardisation`: standardise the
    SMILES first (the options are then recorded in the package so predictions do the same), unless
    `assume_standardised` says they already were.
    """
    result, _ = _train(
        smiles=smiles,
        y=y,
        task=task,
        family=family,
        params=params,
        featuriser_spec=featuriser_spec,
        split=split,
        seed=seed,
        callback=callback,
        metric=metric,
        standardisation=standardisation,
        assume_standardised=assume_standardised,
    )
    return result


def _train(
    *,
    smiles: Sequence[str],
    y: Sequence[Any],
    task: str,
    family: str,
    params: Mapping[str, Any] | None = None,
    featuriser_spec: Mapping[str, Any] | None = None,
    split: Mapping[str, Any] | None = None,
    seed: int = 0,
    callback: Reporter | None = None,
    metric: str | None = None,
    standardisation: StandardiseOptions | None = None,
    assume_standardised: bool = False,
) -> tuple[TrainingResult, PreparedData]:
    seed = _check_seed(seed)
    metric = _check_metric(task, metric)
    split_spec = normalise_split_spec({"seed": seed, **dict(split or {})})
    checked, spec, data = _prepare(
        smiles, y, task, family, params, featuriser_spec, standardisation, assume_standardised
    )
    train, test = split_indices(split_spec, data.smiles)
    _check_classes_present(data, train)
    flavour = FLAVOUR_OF[family]
    n_classes = len(data.classes) if data.classes is not None else None
    monitor = Monitor(callback, flavour=flavour, task=task, metric=metric, X=data.X[test], y=data.y[test])
    model, steps = fit_family(
        family,
        data.X[train],
        data.y[train],
        task=task,
        n_classes=n_classes,
        params=checked,
        seed=seed,
        monitor=monitor,
    )
    return TrainingResult(
        model_object=model,
        family=family,
        flavour=flavour,
        task=task,
        metrics=score(flavour, task, model, data.X[test], data.y[test]),
        params=checked,
        featuriser_spec=spec,
        split=split_spec,
        seed=seed,
        metric=metric,
        classes=data.classes,
        n_records=len(data.smiles),
        n_train=len(train),
        n_test=len(test),
        dropped=data.dropped,
        data_fingerprint=data.fingerprint,
        standardisation=standardisation.to_dict() if standardisation is not None else None,
        history=list(monitor.history),
        stopped_early=monitor.stopped_at is not None,
        steps_run=steps,
    ), data


def cross_validate(
    *,
    smiles: Sequence[str],
    y: Sequence[Any],
    task: str,
    family: str,
    params: Mapping[str, Any] | None = None,
    featuriser_spec: Mapping[str, Any] | None = None,
    folds: int = 5,
    kind: str = "random",
    generic: bool = False,
    seed: int = 0,
    callback: Reporter | None = None,
    metric: str | None = None,
    standardisation: StandardiseOptions | None = None,
    assume_standardised: bool = False,
) -> CVResult:
    """k-fold CV (`kind` "random" or "scaffold": no scaffold in two folds).

    After each fold the callback gets (fold number, running mean of `metric` so far); True stops.
    """
    seed = _check_seed(seed)
    metric = _check_metric(task, metric)
    if kind not in ("random", "scaffold"):
        raise ValueError(f"cross-validation kind must be 'random' or 'scaffold', not {kind!r}")
    checked, _, data = _prepare(smiles, y, task, family, params, featuriser_spec, standardisation, assume_standardised)
    splits = (
        kfold(len(data.smiles), folds, seed)
        if kind == "random"
        else scaffold_kfold(data.smiles, folds, generic=generic)
    )
    flavour = FLAVOUR_OF[family]
    n_classes = len(data.classes) if data.classes is not None else None
    results: list[dict[str, float]] = []
    stopped = False
    for number, (train, test) in enumerate(splits, start=1):
        _check_classes_present(data, train)
        model, _ = fit_family(
            family, data.X[train], data.y[train], task=task, n_classes=n_classes, params=checked, seed=seed
        )
        results.append(score(flavour, task, model, data.X[test], data.y[test]))
        running = float(np.nanmean([r[metric] for r in results]))
        if callback is not None and callback(number, running):
            stopped = True
            break
    keys = [k for k in results[0] if k != "n"]
    return CVResult(
        fold_metrics=results,
        mean={k: float(np.nanmean([r[k] for r in results])) for k in keys},
        std={k: float(np.nanstd([r[k] for r in results])) for k in keys},
        metric=metric,
        params=checked,
        stopped_early=stopped,
        dropped=data.dropped,
    )


def train_and_package(
    *,
    smiles: Sequence[str],
    y: Sequence[Any],
    task: str,
    family: str,
    out_dir: str | os.PathLike[str],
    target_name: str,
    target_units: str | None = None,
    data_source: str | None = None,
    params: Mapping[str, Any] | None = None,
    featuriser_spec: Mapping[str, Any] | None = None,
    split: Mapping[str, Any] | None = None,
    seed: int = 0,
    callback: Reporter | None = None,
    metric: str | None = None,
    standardisation: StandardiseOptions | None = None,
    assume_standardised: bool = False,
    refit: bool = False,
    overwrite: bool = False,
    extra: Mapping[str, Any] | None = None,
) -> Manifest:
    """`train_model`, optionally refit on all rows, then `save_package` (see the module docstring)."""
    result, data = _train(
        smiles=smiles,
        y=y,
        task=task,
        family=family,
        params=params,
        featuriser_spec=featuriser_spec,
        split=split,
        seed=seed,
        callback=callback,
        metric=metric,
        standardisation=standardisation,
        assume_standardised=assume_standardised,
    )
    model = result.model_object
    if refit:
        final_params = dict(result.params)
        if result.stopped_early:
            final_params["n_estimators" if family == "rf" else "epochs"] = result.steps_run
        model, _ = fit_family(
            family,
            data.X,
            data.y,
            task=task,
            params=final_params,
            seed=seed,
            n_classes=len(data.classes) if data.classes is not None else None,
        )
    return save_package(
        out_dir,
        model_object=model,
        flavour=result.flavour,
        task=task,
        target_name=target_name,
        target_units=target_units,
        featuriser=result.featuriser_spec,
        classes=result.classes,
        standardisation=standardisation,
        training_data={"fingerprint": result.data_fingerprint, "n_records": result.n_records, "source": data_source},
        params=result.params,
        metrics=result.metrics,
        training=result.training_info(refit=refit),
        extra=extra,
        overwrite=overwrite,
    )
