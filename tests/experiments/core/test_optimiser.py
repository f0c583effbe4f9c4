"""Samplers, pruners and studies built from specs, exercised through Optuna's ask/tell interface."""

from __future__ import annotations

import optuna
import pytest

from experiments.core.optimiser import (
    AskTellGridSampler,
    create_study,
    enqueue_warm_start,
    grid_search_space,
    make_pruner,
    make_sampler,
    search_exhausted,
)
from experiments.core.search_space import suggest
from experiments.core.spec import parse_spec

from .specs import CUSTOM, RF, spec_dict

optuna.logging.set_verbosity(optuna.logging.WARNING)


def test_tpe_by_default_with_constant_liar_only_when_parallel():
    sequential = make_sampler(parse_spec(RF))
    parallel = make_sampler(parse_spec(spec_dict(parallelism=8)))
    assert isinstance(sequential, optuna.samplers.TPESampler)
    assert sequential._constant_liar is False
    assert parallel._constant_liar is True
    explicit = make_sampler(parse_spec(spec_dict(parallelism=8, sampler={"type": "tpe", "constant_liar": False})))
    assert explicit._constant_liar is False


@pytest.mark.parametrize(
    ("sampler", "cls"),
    [
        ({"type": "random"}, optuna.samplers.RandomSampler),
        ({"type": "gp"}, optuna.samplers.GPSampler),
        ({"type": "grid"}, optuna.samplers.GridSampler),
        ({"type": "tpe", "n_startup_trials": 3}, optuna.samplers.TPESampler),
    ],
)
def test_sampler_types(sampler, cls):
    assert isinstance(make_sampler(parse_spec(spec_dict(sampler=sampler))), cls)


def test_pruner_types():
    assert isinstance(make_pruner(parse_spec(RF)), optuna.pruners.MedianPruner)
    hyperband = make_pruner(parse_spec(spec_dict(pruner={"type": "hyperband", "min_resource": 2, "max_resource": 50})))
    assert isinstance(hyperband, optuna.pruners.HyperbandPruner)
    assert (hyperband._min_resource, hyperband._max_resource) == (2, 50)
    assert isinstance(make_pruner(parse_spec(spec_dict(pruner={"type": "none"}))), optuna.pruners.NopPruner)


def test_median_pruner_prunes_a_bad_trial():
    spec = parse_spec(spec_dict(pruner={"type": "median", "n_startup_trials": 2}))
    study = create_study(spec, None, "prune")
    for value in (1.0, 1.1, 1.2):
        trial = study.ask()
        for step in range(5):
            trial.report(value, step)
        study.tell(trial, value)
    trial = study.ask()
    trial.report(9.0, 0)
    assert trial.should_prune()


def test_a_multi_objective_study_has_the_objectives_directions():
    spec = parse_spec(spec_dict(objective=[{"metric": "rmse"}, {"metric": "spearman"}, {"metric": "r2"}]))
    study = create_study(spec, None, "multi")
    assert study.directions == [
        optuna.study.StudyDirection.MINIMIZE,
        optuna.study.StudyDirection.MAXIMIZE,
        optuna.study.StudyDirection.MAXIMIZE,
    ]
    assert isinstance(study.pruner, optuna.pruners.NopPruner)
    trial = study.ask()
    suggest(trial, spec)
    study.tell(trial, [0.5, 0.8, 0.6])
    assert len(study.best_trials) == 1


def test_grid_search_over_stepped_parameters_visits_each_point_once():
    spec = parse_spec(
        spec_dict(
            sampler={"type": "grid"},
            search_space={
                "n_estimators": {"type": "int", "low": 100, "high": 300, "step": 100},
                "max_samples": {"type": "float", "low": 0.5, "high": 1.0, "step": 0.25},
                "max_features": {"type": "categorical", "choices": ["sqrt", 1.0]},
            },
        )
    )
    assert grid_search_space(spec) == {
        "n_estimators": [100, 200, 300],
        "max_samples": [0.5, 0.75, 1.0],
        "max_features": ["sqrt", 1.0],
    }
    study = create_study(spec, None, "grid")
    assert isinstance(study.sampler, AskTellGridSampler)
    seen = set()
    while not search_exhausted(study):
        trial = study.ask()
        params = suggest(trial, spec)
        study.tell(trial, 0.0)  # Optuna's own GridSampler raises RuntimeError here after the last point
        seen.add(tuple(params.values()))
    assert len(seen) == len(study.trials) == 18


def test_a_rebuilt_sampler_does_not_repeat_its_draws(tmp_path):
    storage = f"sqlite:///{tmp_path / 'studies.db'}"
    space = {"max_samples": {"type": "float", "low": 0.1, "high": 1.0}}
    spec = parse_spec(spec_dict(sampler={"type": "tpe", "seed": 5}, search_space=space))

    def one_trial_per_load(study_name: str) -> list[float]:
        values = []
        for _ in range(4):  # what a driver that loads the study before each ask does
            study = create_study(spec, storage, study_name)
            trial = study.ask()
            values.append(suggest(trial, spec)["max_samples"])
            study.tell(trial, 1.0)
        assert len(study.trials) == 4
        return values

    values = one_trial_per_load("rebuilt")
    assert len(set(values)) == 4  # with a fixed seed, every start-up trial would be the same
    assert one_trial_per_load("rebuilt-again") == values  # reproducible for the same history


def test_an_existing_study_with_other_directions_is_refused():
    storage = optuna.storages.InMemoryStorage()
    create_study(parse_spec(RF), storage, "same-name")
    with pytest.raises(ValueError, match=r"exists with directions \['minimize'\], but the spec has \['maximize'\]"):
        create_study(parse_spec(spec_dict(objective={"metric": "r2"})), storage, "same-name")


def test_warm_start_sets_are_tried_first_and_only_once():
    spec = parse_spec(CUSTOM)
    study = create_study(spec, None, "warm")
    sets = [{"family": "y", "width": [128, 64], "lr": 0.01}, {"family": "x", "depth": 3}]
    assert enqueue_warm_start(study, sets) == 2
    assert enqueue_warm_start(study, sets) == 0  # a restarted driver does not queue them again
    first = study.ask()
    assert suggest(first, spec) == {"family": "y", "width": [128, 64], "lr": 0.01}
    study.tell(first, 0.1)
    second = study.ask()
    params = suggest(second, spec)
    assert params["family"] == "x"
    assert params["depth"] == 3
    assert "lr" in params  # left out of the set: sampled
    assert second.user_attrs == {"warm_start": True}


def test_hyperband_prunes_through_ask_and_tell():
    spec = parse_spec(spec_dict(pruner={"type": "hyperband", "min_resource": 1, "max_resource": 9}))
    study = create_study(spec, None, "hyperband")
    for _ in range(20):
        trial = study.ask()
        params = suggest(trial, spec)
        for step in range(1, 10):
            trial.report(params["n_estimators"] / 100 + step / 100, step)
            if trial.should_prune():
                study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                break
        else:
            study.tell(trial, params["n_estimators"] / 100)
    states = {t.state for t in study.trials}
    assert states == {optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED}
