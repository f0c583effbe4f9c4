"""Valid specs from dicts, JSON and YAML; the defaults that get filled in; the shipped examples."""

from __future__ import annotations

import json
from typing import get_args

import pytest
import yaml

from chemcore.splits import SPLIT_KINDS
from chemcore.training import FAMILIES
from chemcore.training.prepare import TASKS as TRAINER_TASKS
from experiments.core.loading import load_text
from experiments.core.spec import DEFAULT_TRIAL_TIMEOUT, TASKS, ExperimentSpec, SpecError, SplitKind, parse_spec

from .specs import CUSTOM, EXAMPLES, RF, errors_of, spec_dict

YAML_SPEC = """
name: egfr-rf
dataset:
  location: s3://chem-data/egfr/egfr_chembl_pic50.csv
  smiles_column: smiles
  target: pIC50
model:
  family: rf
search_space:
  n_estimators: {type: int, low: 100, high: 500, step: 100}
  max_features: {type: categorical, choices: [sqrt, 0.5, 1.0]}
  max_samples: {type: float, low: 1e-1, high: 1.0}
budget: {max_trials: 30}
"""


def test_a_minimal_spec_gets_every_default():
    spec = parse_spec(RF)
    out = spec.to_dict()
    assert out["dataset"] == {
        "location": "egfr_chembl_pic50.csv",
        "target": "pIC50",
        "smiles_column": "smiles",
        "task": "regression",
        "split": {"kind": "scaffold", "test_fraction": 0.2, "seed": 0, "generic": False},
        "cv_folds": None,
    }
    assert out["model"]["featuriser"]["type"] == "morgan"  # the trainer's default, spelled out
    assert out["model"]["featuriser"]["n_bits"] == 2048
    assert out["objective"] == [{"metric": "rmse", "direction": "minimize"}]
    assert out["parallelism"] == 1
    assert out["sampler"] == {"type": "tpe", "seed": 0, "n_startup_trials": 10, "constant_liar": False}
    assert out["pruner"] == {
        "type": "median",
        "n_startup_trials": 5,
        "n_warmup_steps": 0,
        "interval_steps": 1,
        "n_min_trials": 1,
    }
    assert out["backend"] == {"type": "local", "resources": {"vcpu": 1, "memory_mib": 2048, "gpu": 0}}
    assert out["trial_timeout_seconds"] == DEFAULT_TRIAL_TIMEOUT == 3600
    assert out["retries"] == 1
    assert out["seed"] == 0
    assert out["repeat_identical_trials"] is False  # a repeat of a complete trial's parameters reuses its result
    assert "warm_start" not in out
    assert "register" not in out
    assert out["search_space"]["n_estimators"] == {"type": "int", "low": 100, "high": 500, "log": False, "step": 100}


def test_to_dict_is_json_and_parses_back_to_the_same_spec():
    for data in (RF, CUSTOM):
        spec = parse_spec(data)
        again = parse_spec(json.loads(spec.to_json()))
        assert again.to_dict() == spec.to_dict()
        assert again == spec


def test_json_and_yaml_text_give_the_same_spec():
    from_yaml = parse_spec(YAML_SPEC)
    as_json = json.dumps(load_text(YAML_SPEC, "yaml"))
    from_json = parse_spec(as_json)
    assert from_yaml.to_dict() == from_json.to_dict()
    assert ExperimentSpec.from_yaml(YAML_SPEC) == from_yaml
    assert ExperimentSpec.from_json(as_json.encode()) == from_json
    assert from_yaml.dataset.location == "s3://chem-data/egfr/egfr_chembl_pic50.csv"


def test_yaml_exponents_without_a_dot_are_numbers():
    # YAML 1.1 (PyYAML) would read `1e-1` as the string "1e-1"
    assert yaml.safe_load("x: 1e-1") == {"x": "1e-1"}
    assert parse_spec(YAML_SPEC).search_space["max_samples"].low == pytest.approx(0.1)


def test_defaults_that_follow_other_fields():
    spec = parse_spec(
        spec_dict(seed=11, parallelism=4, dataset={"library": 3, "target": "active", "task": "classification"})
    )
    assert spec.sampler.seed == 11
    assert spec.dataset.split.seed == 11
    assert spec.sampler.constant_liar is True  # parallel TPE trials must not all land in one place
    assert spec.objectives[0].metric == "roc_auc"
    assert spec.directions == ["maximize"]


@pytest.mark.parametrize(
    ("metric", "direction"),
    [("rmse", "minimize"), ("mae", "minimize"), ("r2", "maximize"), ("spearman", "maximize")],
)
def test_regression_metrics_get_their_natural_direction(metric, direction):
    assert parse_spec(spec_dict(objective={"metric": metric})).directions == [direction]


@pytest.mark.parametrize(
    ("metric", "direction"), [("roc_auc", "maximize"), ("pr_auc", "maximize"), ("accuracy", "maximize")]
)
def test_classification_metrics_get_their_natural_direction(metric, direction):
    data = spec_dict(
        objective={"metric": metric}, dataset={"location": "hits.csv", "target": "active", "task": "classification"}
    )
    assert parse_spec(data).directions == [direction]


def test_a_list_of_objectives_is_multi_objective_and_defaults_to_no_pruning():
    spec = parse_spec(spec_dict(objective=[{"metric": "rmse"}, {"metric": "spearman"}]))
    assert spec.is_multi_objective
    assert spec.directions == ["minimize", "maximize"]
    assert spec.pruner.type == "none"


def test_a_custom_container_spec():
    spec = parse_spec(CUSTOM)
    assert not spec.uses_trainer
    assert spec.model.to_dict() == {
        "image": "registry.example.com/chem/gnn:1.4",
        "command": ["python", "-m", "gnn.train"],
        "env": {},
        "fixed_params": {},
    }
    assert spec.directions == ["minimize"]
    assert spec.conditional_params == ["depth", "width"]


def test_warm_start_register_and_cv_are_kept():
    data = spec_dict(
        warm_start={"experiment": 4, "params": [{"n_estimators": 200.0, "max_features": "sqrt"}]},
        register={"model": "egfr-rf", "alias": "champion"},
    )
    data["dataset"]["cv_folds"] = 5
    out = parse_spec(data).to_dict()
    assert out["warm_start"] == {"experiment": 4, "params": [{"n_estimators": 200, "max_features": "sqrt"}]}
    assert out["register"] == {"model": "egfr-rf", "alias": "champion"}
    assert out["dataset"]["cv_folds"] == 5


def test_sampler_and_pruner_options_are_stored_with_their_defaults():
    spec = parse_spec(
        spec_dict(
            sampler={"type": "tpe", "n_ei_candidates": 48, "multivariate": True, "group": True},
            pruner={"type": "hyperband", "max_resource": 300},
        )
    )
    assert spec.to_dict()["sampler"] == {
        "type": "tpe",
        "seed": 0,
        "n_startup_trials": 10,
        "n_ei_candidates": 48,
        "multivariate": True,
        "group": True,
        "constant_liar": False,
    }
    assert spec.to_dict()["pruner"] == {
        "type": "hyperband",
        "min_resource": 1,
        "max_resource": 300,
        "reduction_factor": 3,
        "bootstrap_count": 0,
    }


@pytest.mark.parametrize("name", ["egfr-rf.yaml", "solubility-mlp.yaml"])
def test_the_examples_are_valid(name):
    spec = parse_spec((EXAMPLES / name).read_text())
    assert spec.name == name.removesuffix(".yaml")
    assert parse_spec(spec.to_dict()) == spec


def test_the_egfr_example_is_what_it_says():
    spec = parse_spec((EXAMPLES / "egfr-rf.yaml").read_text())
    assert spec.model.family == "rf"
    assert spec.dataset.location == "datasets/egfr_pic50.csv"  # the shipped sample, once uploaded
    assert (spec.dataset.target, spec.dataset.smiles_column) == ("pIC50", "smiles")
    assert spec.dataset.split.kind == "scaffold"
    assert spec.budget.max_trials == 8


def test_the_solubility_example_trains_the_torch_mlp():
    spec = parse_spec((EXAMPLES / "solubility-mlp.yaml").read_text())
    assert spec.model.family == "torch_mlp"
    assert spec.search_space["hidden_layers"].choices == [[256], [512, 128], [1024, 256, 64]]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "not valid JSON (line 1, column 2)"),
        ('{"name": "a", "name": "b"}', "not valid JSON: duplicate key 'name'"),
        ("name: a\nname: b\n", "not valid YAML (line 2, column 1): duplicate key 'name'"),
        ("base: &b {x: 1}\nother: *b\n", "anchors and aliases (*name) are not supported"),
        ("name: [unclosed\n", "not valid YAML"),
        ("- just\n- a list\n", "the spec must be a mapping (JSON object), not a list"),
        ("", "the spec must be a mapping (JSON object), not nothing"),
        ("!!python/object:os.system {}", "not valid YAML"),
    ],
)
def test_unreadable_text_is_one_error_without_a_field(text, message):
    with pytest.raises(SpecError) as caught:
        parse_spec(text)
    assert len(caught.value.errors) == 1
    assert caught.value.errors[0]["field"] == ""
    assert message in caught.value.errors[0]["message"]


def test_spec_error_lists_every_problem_readably():
    with pytest.raises(SpecError) as caught:
        parse_spec(spec_dict(parallelism=0, retries=9))
    error = caught.value
    assert isinstance(error, ValueError)
    assert error.errors == [
        {"field": "parallelism", "message": "must be ≥ 1 (got 0)"},
        {"field": "retries", "message": "must be ≤ 5 (got 9)"},
    ]
    assert str(error) == (
        "2 problems in the experiment spec:\n- parallelism: must be ≥ 1 (got 0)\n- retries: must be ≤ 5 (got 9)"
    )


def test_a_single_problem_reads_as_one_line():
    assert errors_of(spec_dict(parallelism=65)) == {"parallelism": "must be ≤ 64 (got 65)"}
    with pytest.raises(SpecError, match=r"^parallelism: must be ≤ 64 \(got 65\)$"):
        parse_spec(spec_dict(parallelism=65))


def test_the_spec_mirrors_the_core_trainer():
    assert set(get_args(SplitKind)) == set(SPLIT_KINDS)
    assert set(TASKS) == set(TRAINER_TASKS)
    searched = {"rf": "max_samples", "torch_mlp": "dropout", "keras_mlp": "dropout"}
    assert set(searched) == set(FAMILIES)
    for family, name in searched.items():
        space = {name: {"type": "float", "low": 0.1, "high": 0.5}}
        assert parse_spec(spec_dict(model={"family": family}, search_space=space)).model.family == family
