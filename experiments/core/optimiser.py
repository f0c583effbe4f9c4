"""Optuna objects for a spec: sampler, pruner, the (resumable) study, warm-start trials.

Experiments run by ask/tell: whatever drives them rebuilds the study from storage each time it
needs new trials, so the samplers built here must behave well when rebuilt. Two things matter:

- Seeds. A sampler rebuilt with the same seed draws the same random numbers again, so every
  start-up trial of a resumed study would get the same parameters. `create_study` therefore seeds
  the sampler with the spec's seed plus the number of trials already in the study: reproducible for
  a given history, never repeating itself. (The grid sampler keeps its seed: its shuffled grid order
  must stay the same across rebuilds, as trials refer to grid points by position.)
- Stopping. Optuna's grid sampler calls `Study.stop()` after the last grid point, which raises a
  RuntimeError outside `Study.optimize` (i.e. in `Study.tell`, after the result was stored). The
  grid sampler here leaves stopping to the caller: check `search_exhausted(study)`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import optuna
from optuna.pruners import BasePruner
from optuna.samplers import BaseSampler
from optuna.storages import BaseStorage
from optuna.trial import FrozenTrial, TrialState

from .search_space import encode_params
from .spec import MAX_SEED, ExperimentSpec, encode_value

WARM_START_ATTR = "warm_start"


class AskTellGridSampler(optuna.samplers.GridSampler):
    """`GridSampler` that does not call `Study.stop()` when the grid is done (see the module docstring)."""

    def after_trial(
        self, study: optuna.Study, trial: FrozenTrial, state: TrialState, values: Sequence[float] | None
    ) -> None:
        return None


def grid_search_space(spec: ExperimentSpec) -> dict[str, list[Any]]:
    """Every value of every parameter (categorical choices encoded as Optuna stores them)."""
    out: dict[str, list[Any]] = {}
    for name, param in spec.search_space.items():
        values = param.grid_values()
        if values is None:
            raise ValueError(f"search_space.{name}: the grid sampler needs a step for a float parameter")
        out[name] = [encode_value(v) for v in values]
    return out


def make_sampler(spec: ExperimentSpec, *, seed_offset: int = 0) -> BaseSampler:
    """The spec's sampler; `seed_offset` (e.g. the number of trials so far) varies the seed on rebuilds."""
    options = spec.sampler
    assert options is not None
    assert options.seed is not None
    seed = (options.seed + seed_offset) % (MAX_SEED + 1)
    kind = options.type
    if kind == "tpe":
        return optuna.samplers.TPESampler(
            seed=seed,
            n_startup_trials=options.n_startup_trials if options.n_startup_trials is not None else 10,
            n_ei_candidates=options.n_ei_candidates or 24,
            multivariate=options.multivariate,
            group=bool(options.group),
            constant_liar=bool(options.constant_liar),
        )
    if kind == "gp":
        return optuna.samplers.GPSampler(
            seed=seed,
            n_startup_trials=options.n_startup_trials if options.n_startup_trials is not None else 10,
            deterministic_objective=bool(options.deterministic_objective),
            # conditional parameters are sampled at random, as documented; say so once, not every trial
            warn_independent_sampling=not spec.conditional_params,
        )
    if kind == "cmaes":
        return optuna.samplers.CmaEsSampler(
            seed=seed,
            n_startup_trials=options.n_startup_trials if options.n_startup_trials is not None else 1,
            sigma0=options.sigma0,
            popsize=options.popsize,
            with_margin=bool(options.with_margin),
            use_separable_cma=bool(options.use_separable_cma),
        )
    if kind == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if kind == "grid":
        return AskTellGridSampler(grid_search_space(spec), seed=options.seed)
    raise ValueError(f"unknown sampler type {kind!r}")


def make_pruner(spec: ExperimentSpec) -> BasePruner:
    """The spec's pruner (options filled by the spec)."""
    options = spec.pruner
    assert options is not None
    if options.type == "median":
        return optuna.pruners.MedianPruner(
            n_startup_trials=options.n_startup_trials,
            n_warmup_steps=options.n_warmup_steps,
            interval_steps=options.interval_steps,
            n_min_trials=options.n_min_trials,
        )
    if options.type == "hyperband":
        return optuna.pruners.HyperbandPruner(
            min_resource=options.min_resource,
            max_resource=options.max_resource,
            reduction_factor=options.reduction_factor,
            bootstrap_count=options.bootstrap_count,
        )
    return optuna.pruners.NopPruner()


def create_study(spec: ExperimentSpec, storage: str | BaseStorage | None, study_name: str) -> optuna.Study:
    """Create the experiment's study, or load it if it exists (resuming is the normal case).

    Directions come from the objective(s); an existing study with other directions is an error
    rather than silently optimised the wrong way.
    """
    storage = optuna.storages.get_storage(storage)
    try:
        study_id = storage.get_study_id_from_name(study_name)
        n_trials = len(storage.get_all_trials(study_id, deepcopy=False))
    except KeyError:
        n_trials = 0
    study = optuna.create_study(
        storage=storage,
        study_name=study_name,
        directions=spec.directions,
        sampler=make_sampler(spec, seed_offset=n_trials),
        pruner=make_pruner(spec),
        load_if_exists=True,
    )
    found = [d.name.lower() for d in study.directions]
    if found != spec.directions:
        raise ValueError(f"study {study_name!r} exists with directions {found}, but the spec has {spec.directions}")
    return study


def enqueue_warm_start(study: optuna.Study, params_list: Iterable[Mapping[str, Any]]) -> int:
    """Queue parameter sets to be tried first; returns how many were new.

    Sets already queued or tried (same parameters) are skipped, so calling this again after a
    restart does not run them twice. Validate the sets first (`search_space.validate_params`).
    """
    before = len(study.get_trials(deepcopy=False))
    for params in params_list:
        study.enqueue_trial(encode_params(params), user_attrs={WARM_START_ATTR: True}, skip_if_exists=True)
    return len(study.get_trials(deepcopy=False)) - before


def search_exhausted(study: optuna.Study) -> bool:
    """True when every point of a grid study has a finished trial (other samplers never run out)."""
    sampler = study.sampler
    return isinstance(sampler, optuna.samplers.GridSampler) and sampler.is_exhausted(study)
