"""Suggesting parameters on real Optuna studies: declaration order, conditions, encoded list choices."""

from __future__ import annotations

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from experiments.core.search_space import (
    decode_params,
    encode_params,
    suggest,
    to_distributions,
    validate_params,
)
from experiments.core.spec import SpecError, parse_spec

from .specs import CUSTOM, EXAMPLES, RF, spec_dict

optuna.logging.set_verbosity(optuna.logging.WARNING)


def run(spec, n_trials: int, sampler: optuna.samplers.BaseSampler | None = None) -> list[dict]:
    """Ask/tell `n_trials` trials on an in-memory study; returns what `suggest` gave each trial."""
    study = optuna.create_study(sampler=sampler or optuna.samplers.RandomSampler(seed=1))
    suggested = []
    for _ in range(n_trials):
        trial = study.ask()
        params = suggest(trial, spec)
        suggested.append(params)
        study.tell(trial, params.get("lr", 0.0) + params.get("depth", 0))
    return suggested


def test_a_conditional_parameter_appears_only_when_its_condition_holds():
    spec = parse_spec(CUSTOM)
    trials = run(spec, 30)
    families = {p["family"] for p in trials}
    assert families == {"x", "y"}  # both branches were visited
    for params in trials:
        assert ("depth" in params) == (params["family"] == "x")
        assert ("width" in params) == (params["family"] == "y")
        assert next(iter(params)) == "family"  # declaration order
        assert "lr" in params


def test_conditions_hold_with_tpe_too():
    spec = parse_spec(CUSTOM)
    sampler = optuna.samplers.TPESampler(seed=3, n_startup_trials=5)
    for params in run(spec, 30, sampler):
        assert ("depth" in params) == (params["family"] == "x")


def test_the_trial_records_only_the_suggested_parameters():
    spec = parse_spec(CUSTOM)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(10):
        trial = study.ask()
        params = suggest(trial, spec)
        study.tell(trial, 0.0)
        assert set(study.trials[-1].params) == set(params)


def test_in_conditions_and_chains():
    spec = parse_spec(
        spec_dict(
            CUSTOM,
            search_space={
                "kind": {"type": "categorical", "choices": ["a", "b", "c"]},
                "layers": {"type": "int", "low": 1, "high": 3, "condition": {"param": "kind", "in": ["a", "b"]}},
                "width": {
                    "type": "int",
                    "low": 8,
                    "high": 64,
                    "step": 8,
                    "condition": {"param": "layers", "equals": 3},
                },
            },
        )
    )
    trials = run(spec, 60)
    for params in trials:
        assert ("layers" in params) == (params["kind"] in ("a", "b"))
        assert ("width" in params) == (params.get("layers") == 3)
    assert any("width" in p for p in trials)


def test_list_choices_are_lists_for_the_trainer_and_json_text_for_optuna():
    spec = parse_spec((EXAMPLES / "solubility-mlp.yaml").read_text())
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen = set()
    for _ in range(12):
        trial = study.ask()
        params = suggest(trial, spec)
        study.tell(trial, 1.0)
        assert isinstance(params["hidden_layers"], list)
        assert trial.params["hidden_layers"] == str(params["hidden_layers"])
        assert decode_params(spec, trial.params) == params
        seen.add(tuple(params["hidden_layers"]))
    assert len(seen) > 1


def test_suggested_values_respect_type_step_and_range():
    spec = parse_spec((EXAMPLES / "egfr-rf.yaml").read_text())
    for params in run(spec, 30):
        assert params["n_estimators"] in range(50, 301, 50)
        assert 1 <= params["min_samples_leaf"] <= 16
        assert params["max_features"] in ("sqrt", "log2", 0.1)
        assert ("max_samples" in params) == (params["bootstrap"] is True)


def test_distributions():
    spec = parse_spec(CUSTOM)
    assert to_distributions(spec) == {
        "family": CategoricalDistribution(["x", "y"]),
        "depth": IntDistribution(2, 8),
        "width": CategoricalDistribution(["[64]", "[128, 64]"]),
        "lr": FloatDistribution(1e-4, 1e-1, log=True),
    }
    stepped = parse_spec(RF)
    assert to_distributions(stepped)["n_estimators"] == IntDistribution(100, 500, step=100)


def test_fixed_trials_suggest_the_given_values():
    spec = parse_spec(CUSTOM)
    trial = optuna.trial.FixedTrial({"family": "y", "width": "[128, 64]", "lr": 0.01})
    assert suggest(trial, spec) == {"family": "y", "width": [128, 64], "lr": 0.01}


def test_validate_params_normalises_and_names_the_parameter():
    spec = parse_spec(CUSTOM)
    assert validate_params(spec, {"family": "x", "depth": 4.0}) == {"family": "x", "depth": 4}
    assert validate_params(spec, {"family": "y", "width": [128, 64]}) == {"family": "y", "width": [128, 64]}
    assert validate_params(spec, {}) == {}
    with pytest.raises(SpecError) as caught:
        validate_params(spec, {"family": "y", "depth": 4, "lr": 2.0, "momentum": 0.9})
    assert caught.value.errors == [
        {"field": "momentum", "message": "not in the search space; parameters: family, depth, width, lr"},
        {"field": "depth", "message": "not used in this set: its condition family == 'x' does not hold"},
        {"field": "lr", "message": "must be between 0.0001 and 0.1 (got 2.0)"},
    ]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"depth": 2.5, "family": "x"}, "must be an integer (got 2.5)"),
        ({"depth": True, "family": "x"}, "must be an integer (got true)"),
        ({"depth": "3", "family": "x"}, "must be an integer (got '3')"),
        ({"depth": 9, "family": "x"}, "must be between 2 and 8 (got 9)"),
    ],
)
def test_validate_params_rejects_bad_values(params, message):
    with pytest.raises(SpecError) as caught:
        validate_params(parse_spec(CUSTOM), params)
    assert caught.value.errors == [{"field": "depth", "message": message}]


def test_encode_params_turns_lists_into_the_stored_text():
    assert encode_params({"width": [128, 64], "lr": 0.1, "family": "y"}) == {
        "width": "[128, 64]",
        "lr": 0.1,
        "family": "y",
    }
