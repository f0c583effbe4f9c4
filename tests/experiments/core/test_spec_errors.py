"""Every kind of bad field is reported at its exact dotted path with a message that says what to do."""

from __future__ import annotations

import json

import pytest

from experiments.core import spec as spec_module
from experiments.core.spec import SpecError, parse_spec

from .specs import CUSTOM, RF, errors_of, spec_dict, with_path

S = "search_space"
RF_PARAMS = (
    "n_estimators, max_depth, min_samples_split, min_samples_leaf, max_features, bootstrap, max_samples, "
    "class_weight, n_jobs, trees_per_report"
)
TWO_OBJECTIVES = [{"metric": "rmse"}, {"metric": "r2"}]


def param(name: str, **fields) -> dict:
    """RF with one search-space parameter replaced (or added)."""
    return with_path(RF, f"{S}.{name}", fields)


def custom_param(name: str, **fields) -> dict:
    return with_path(CUSTOM, f"{S}.{name}", fields)


SEARCH_SPACE_CASES = [
    (
        "low not below high",
        param("n_estimators", type="int", low=500, high=100),
        {"search_space.n_estimators.low": "must be less than high (got 500 ≥ 100)"},
    ),
    (
        "float low equals high",
        param("max_samples", type="float", low=0.5, high=0.5),
        {"search_space.max_samples.low": "must be less than high (got 0.5 ≥ 0.5)"},
    ),
    (
        "log needs a positive low",
        param("max_samples", type="float", low=0, high=1, log=True),
        {"search_space.max_samples.low": "must be > 0 when log is true (got 0.0)"},
    ),
    (
        "step must be positive",
        param("max_samples", type="float", low=0.1, high=1, step=0),
        {"search_space.max_samples.step": "must be > 0 (got 0.0)"},
    ),
    (
        "float step with log",
        param("max_samples", type="float", low=0.1, high=1, step=0.1, log=True),
        {"search_space.max_samples.step": "cannot be combined with log: true (log-scaled floats are continuous)"},
    ),
    (
        "int step with log",
        param("n_estimators", type="int", low=100, high=500, step=2, log=True),
        {"search_space.n_estimators.step": "must be 1 when log is true (got 2)"},
    ),
    (
        "int step must divide the range",
        param("n_estimators", type="int", low=100, high=500, step=150),
        {"search_space.n_estimators.step": "must divide high - low (400) exactly (got 150)"},
    ),
    (
        "float step must divide the range",
        param("max_samples", type="float", low=0.1, high=1.0, step=0.25),
        {"search_space.max_samples.step": "must divide high - low (0.9) exactly (got 0.25)"},
    ),
    (
        "empty choices",
        param("max_features", type="categorical", choices=[]),
        {"search_space.max_features.choices": "must not be empty"},
    ),
    (
        "duplicate choices",
        param("max_features", type="categorical", choices=["sqrt", 0.5, "sqrt"]),
        {"search_space.max_features.choices[2]": "duplicate of choices[0] ('sqrt')"},
    ),
    (
        "true and 1 are one choice for Optuna",
        custom_param("family", type="categorical", choices=[1, True]),
        {"search_space.family.choices[1]": "duplicate of choices[0] (1)"},
    ),
    (
        "a list choice equal to a string choice once stored",
        custom_param("family", type="categorical", choices=["[64]", [64]]),
        {"search_space.family.choices[1]": "duplicate of choices[0] ('[64]')"},
    ),
    (
        "unknown type lists the types",
        param("max_features", type="double", low=0.1, high=1),
        {"search_space.max_features.type": "must be one of 'float', 'int', 'categorical' (got 'double')"},
    ),
    (
        "unknown key, with the keys of that type",
        param("max_samples", type="float", lw=0.1, low=0.1, high=1),
        {
            "search_space.max_samples.lw": (
                "unknown field (did you mean 'low'?); allowed: type, low, high, log, step, condition"
            )
        },
    ),
    (
        "unknown key of a categorical",
        param("max_features", type="categorical", choice=["sqrt"], choices=["sqrt"]),
        {
            "search_space.max_features.choice": (
                "unknown field (did you mean 'choices'?); allowed: type, choices, condition"
            )
        },
    ),
    (
        "non-numeric bounds",
        param("max_samples", type="float", low="abc", high=True),
        {
            "search_space.max_samples.low": "must be a number (got 'abc')",
            "search_space.max_samples.high": "must be a number (got true)",
        },
    ),
    (
        "int bounds with a fraction",
        param("n_estimators", type="int", low=100.5, high=500),
        {"search_space.n_estimators.low": "must be an integer for an int parameter (got 100.5)"},
    ),
    (
        "missing bound",
        param("n_estimators", type="int", low=100),
        {"search_space.n_estimators.high": "required for an int parameter"},
    ),
    ("missing type", param("n_estimators", low=100, high=200), {"search_space.n_estimators.type": "required"}),
    (
        "choices on a float",
        param("max_samples", type="float", low=0.1, high=1, choices=[1]),
        {"search_space.max_samples.choices": "not used by a float parameter"},
    ),
    (
        "bounds on a categorical",
        param("max_features", type="categorical", choices=["sqrt"], low=1),
        {"search_space.max_features.low": "not used by a categorical parameter"},
    ),
    (
        "a mapping as a choice",
        custom_param("family", type="categorical", choices=["x", {"a": 1}]),
        {
            "search_space.family.choices[1]": (
                "must be a string, number, true/false, null or a list of those (got {'a': 1})"
            )
        },
    ),
    (
        "bad parameter name",
        spec_dict(CUSTOM, search_space={"9lives": {"type": "int", "low": 1, "high": 3}}),
        {
            "search_space.9lives": (
                "parameter names use letters, digits, '_' or '-', start with a letter or '_', ≤ 64 characters"
            )
        },
    ),
    ("empty search space", spec_dict(search_space={}), {"search_space": "needs at least one parameter"}),
]

CONDITION_CASES = [
    (
        "unknown parameter",
        with_path(CUSTOM, f"{S}.depth.condition", {"param": "famly", "equals": "x"}),
        {"search_space.depth.condition.param": "unknown parameter 'famly'; a condition refers to an earlier parameter"},
    ),
    (
        "later-defined parameter",
        custom_param("family", type="categorical", choices=["x", "y"], condition={"param": "lr", "in": [0.1]}),
        {
            "search_space.family.condition.param": (
                "'lr' is declared after 'family'; a condition may only refer to an earlier parameter"
            )
        },
    ),
    (
        "itself",
        with_path(CUSTOM, f"{S}.depth.condition", {"param": "depth", "equals": 3}),
        {"search_space.depth.condition.param": "a parameter cannot depend on itself"},
    ),
    (
        "a cycle",
        spec_dict(
            CUSTOM,
            search_space={
                "a": {"type": "int", "low": 1, "high": 3, "condition": {"param": "b", "equals": 1}},
                "b": {"type": "int", "low": 1, "high": 3, "condition": {"param": "a", "equals": 1}},
            },
        ),
        {"search_space.a.condition.param": "conditions form a cycle: a → b → a"},
    ),
    (
        "a continuous float",
        custom_param("tail", type="int", low=1, high=3, condition={"param": "lr", "equals": 0.01}),
        {
            "search_space.tail.condition.param": (
                "'lr' is a continuous float, which never equals a given value exactly; "
                "condition on an int, a categorical or a float with a step"
            )
        },
    ),
    (
        "a value the parameter cannot take",
        with_path(CUSTOM, f"{S}.depth.condition", {"param": "family", "equals": "z"}),
        {"search_space.depth.condition.equals": "never holds: family must be one of 'x', 'y' (got 'z')"},
    ),
    (
        "one of the values cannot be taken",
        with_path(CUSTOM, f"{S}.depth.condition", {"param": "family", "in": ["x", "q"]}),
        {"search_space.depth.condition.in[1]": "never holds: family must be one of 'x', 'y' (got 'q')"},
    ),
    (
        "an int out of range",
        custom_param("tail", type="int", low=1, high=3, condition={"param": "depth", "in": [4, 9]}),
        {"search_space.tail.condition.in[1]": "never holds: depth must be between 2 and 8 (got 9)"},
    ),
    (
        "true is not 1",
        spec_dict(
            CUSTOM,
            search_space={
                "a": {"type": "int", "low": 1, "high": 3},
                "b": {"type": "int", "low": 1, "high": 3, "condition": {"param": "a", "equals": True}},
            },
        ),
        {"search_space.b.condition.equals": "never holds: a must be an integer (got true)"},
    ),
    (
        "both equals and in",
        with_path(CUSTOM, f"{S}.depth.condition", {"param": "family", "equals": "x", "in": ["x"]}),
        {"search_space.depth.condition": "give exactly one of 'equals' (a value) or 'in' (a list of values)"},
    ),
    (
        "neither equals nor in",
        with_path(CUSTOM, f"{S}.depth.condition", {"param": "family"}),
        {"search_space.depth.condition": "give exactly one of 'equals' (a value) or 'in' (a list of values)"},
    ),
    (
        "empty in",
        with_path(CUSTOM, f"{S}.depth.condition", {"param": "family", "in": []}),
        {"search_space.depth.condition.in": "must not be empty"},
    ),
]

TRAINER_CASES = [
    (
        "not a parameter of the family",
        param("learning_rate", type="float", low=0.1, high=1),
        {"search_space.learning_rate": f"not a parameter of rf; known: {RF_PARAMS}"},
    ),
    (
        "a bound the trainer refuses",
        param("n_estimators", type="int", low=0, high=500),
        {"search_space.n_estimators.low": "parameter 'n_estimators' must be between 1 and 100000, not 0"},
    ),
    (
        "a float range for an integer parameter",
        param("n_estimators", type="float", low=10, high=500),
        {"search_space.n_estimators.type": "n_estimators takes integers: use type: int"},
    ),
    (
        "a choice the task does not allow",
        param("class_weight", type="categorical", choices=[None, "balanced"]),
        {"search_space.class_weight.choices[1]": "parameter 'class_weight' applies to classification only"},
    ),
    (
        "unknown fixed parameter",
        with_path(RF, "model.fixed_params", {"n_trees": 5}),
        {"model.fixed_params.n_trees": f"not a parameter of rf; known: {RF_PARAMS}"},
    ),
    (
        "bad fixed value",
        with_path(RF, "model.fixed_params", {"min_samples_leaf": 0}),
        {"model.fixed_params.min_samples_leaf": "parameter 'min_samples_leaf' must be between 1 and ∞, not 0"},
    ),
    (
        "fixed and searched",
        with_path(RF, "model.fixed_params", {"n_estimators": 300}),
        {"search_space.n_estimators": "also given in model.fixed_params: fix it or search it, not both"},
    ),
    (
        "an MLP parameter on a forest",
        param("lr", type="float", low=1e-4, high=1e-2, log=True),
        {"search_space.lr": f"not a parameter of rf; known: {RF_PARAMS}"},
    ),
]

DATASET_AND_MODEL_CASES = [
    (
        "library and location",
        with_path(RF, "dataset.library", 3),
        {"dataset": "give exactly one of 'library' (a library id) or 'location' (a file)"},
    ),
    (
        "neither library nor location",
        spec_dict(dataset={"target": "pIC50"}),
        {"dataset": "give exactly one of 'library' (a library id) or 'location' (a file)"},
    ),
    ("missing target", spec_dict(dataset={"library": 3}), {"dataset.target": "required"}),
    ("library id", spec_dict(dataset={"library": 0, "target": "x"}), {"dataset.library": "must be ≥ 1 (got 0)"}),
    (
        "parent directory",
        with_path(RF, "dataset.location", "../../etc/passwd"),
        {"dataset.location": "must not contain '..' segments"},
    ),
    (
        "a web URL",
        with_path(RF, "dataset.location", "https://example.com/a.csv"),
        {"dataset.location": "must be a storage key, a path or s3://bucket/key (got a URL)"},
    ),
    (
        "split kind and fraction",
        with_path(RF, "dataset.split", {"kind": "stratified", "test_fraction": 1.5}),
        {
            "dataset.split.kind": "must be one of 'scaffold', 'random' (got 'stratified')",
            "dataset.split.test_fraction": "must be < 1.0 (got 1.5)",
        },
    ),
    ("one fold", with_path(RF, "dataset.cv_folds", 1), {"dataset.cv_folds": "must be ≥ 2 (got 1)"}),
    (
        "task",
        with_path(RF, "dataset.task", "ranking"),
        {"dataset.task": "must be one of 'regression', 'classification' (got 'ranking')"},
    ),
    (
        "family and image",
        with_path(RF, "model.image", "repo/img:1"),
        {"model.image": "cannot be combined with 'family': give one or the other"},
    ),
    (
        "neither family nor image",
        spec_dict(model={"fixed_params": {}}),
        {"model": "give either 'family' (one of the trainer's model families) or 'image' and 'command'"},
    ),
    (
        "unknown family",
        spec_dict(model={"family": "xgboost"}),
        {"model.family": "must be one of 'rf', 'torch_mlp', 'keras_mlp' (got 'xgboost')"},
    ),
    (
        "command with a family",
        with_path(RF, "model.command", ["python"]),
        {"model.command": "only used with a custom 'image'"},
    ),
    (
        "featuriser with an image",
        with_path(CUSTOM, "model.featuriser", {"type": "morgan"}),
        {"model.featuriser": "only used with a model 'family' (the container featurises itself)"},
    ),
    (
        "image reference",
        with_path(CUSTOM, "model.image", "Not An Image"),
        {"model.image": "must be a container image reference like repo/name:tag (got 'Not An Image')"},
    ),
    (
        "image without command",
        spec_dict(CUSTOM, model={"image": "repo/img:1"}),
        {"model.command": "required with a custom image: the program and its arguments, as a list"},
    ),
    (
        "featuriser field",
        with_path(RF, "model.featuriser", {"type": "morgan", "radius": 99}),
        {"model.featuriser.radius": "featuriser spec field 'radius' must be between 0 and 10, not 99"},
    ),
    (
        "environment variable name",
        with_path(CUSTOM, "model.env", {"1BAD": "x"}),
        {"model.env.1BAD": "must be a variable name: letters, digits and '_', not starting with a digit"},
    ),
]

OBJECTIVE_AND_BUDGET_CASES = [
    (
        "metric of the other task",
        spec_dict(objective={"metric": "roc_auc"}),
        {
            "objective.metric": (
                "must be a regression metric the trainer reports: rmse, mae, r2, spearman (got 'roc_auc')"
            )
        },
    ),
    (
        "metric of a classification task",
        spec_dict(objective={"metric": "rmse"}, dataset={"library": 2, "target": "active", "task": "classification"}),
        {
            "objective.metric": (
                "must be a classification metric the trainer reports: roc_auc, pr_auc, accuracy (got 'rmse')"
            )
        },
    ),
    (
        "the wrong way round",
        spec_dict(objective={"metric": "rmse", "direction": "maximize"}),
        {"objective.direction": "rmse should be minimized; maximize would seek the worst model"},
    ),
    (
        "a container's own metric needs a direction",
        spec_dict(CUSTOM, objective={"metric": "val_loss"}),
        {
            "objective.direction": (
                "required: 'val_loss' has no default direction "
                "(known: rmse, mae, r2, spearman, roc_auc, pr_auc, accuracy)"
            )
        },
    ),
    (
        "a metric twice",
        spec_dict(objective=[{"metric": "rmse"}, {"metric": "rmse"}]),
        {"objective[1].metric": "'rmse' is already objective[0]"},
    ),
    (
        "no objective for a container",
        spec_dict(CUSTOM, objective=None),
        {"objective": "required with a custom image: name the metric the container reports"},
    ),
    (
        "direction",
        spec_dict(objective={"metric": "rmse", "direction": "up"}),
        {"objective.direction": "must be one of 'minimize', 'maximize' (got 'up')"},
    ),
    (
        "a bare metric name",
        spec_dict(objective="rmse"),
        {"objective": "must be {metric: ..., direction: ...} or a list of them (got 'rmse')"},
    ),
    ("no limit", spec_dict(budget={}), {"budget": "give max_trials and/or max_time_seconds"}),
    ("no trials", spec_dict(budget={"max_trials": 0}), {"budget.max_trials": "must be ≥ 1 (got 0)"}),
    ("a string", spec_dict(budget={"max_trials": "30"}), {"budget.max_trials": "must be an integer (got '30')"}),
    ("a float", spec_dict(budget={"max_trials": 30.0}), {"budget.max_trials": "must be an integer (got 30.0)"}),
    ("a boolean", spec_dict(budget={"max_trials": True}), {"budget.max_trials": "must be an integer (got true)"}),
    ("parallelism", spec_dict(parallelism=65), {"parallelism": "must be ≤ 64 (got 65)"}),
    ("retries", spec_dict(retries=6), {"retries": "must be ≤ 5 (got 6)"}),
    (
        "repeats",
        spec_dict(repeat_identical_trials="yes"),
        {"repeat_identical_trials": "must be true or false (got 'yes')"},
    ),
    ("timeout", spec_dict(trial_timeout_seconds=0), {"trial_timeout_seconds": "must be ≥ 1 (got 0)"}),
    ("seed", spec_dict(seed=-1), {"seed": "must be ≥ 0 (got -1)"}),
]

SAMPLER_PRUNER_BACKEND_CASES = [
    (
        "sampler type",
        spec_dict(sampler={"type": "bayes"}),
        {"sampler.type": "must be one of 'tpe', 'gp', 'cmaes', 'random', 'grid' (got 'bayes')"},
    ),
    (
        "option of another sampler",
        spec_dict(sampler={"type": "random", "n_startup_trials": 5}),
        {"sampler.n_startup_trials": "not an option of the random sampler; its options: seed"},
    ),
    (
        "misspelt option",
        spec_dict(sampler={"type": "tpe", "n_startup_trial": 5}),
        {
            "sampler.n_startup_trial": (
                "unknown field (did you mean 'n_startup_trials'?); allowed: type, seed, n_startup_trials, "
                "n_ei_candidates, multivariate, group, constant_liar"
            )
        },
    ),
    (
        "group without multivariate",
        spec_dict(sampler={"type": "tpe", "group": True, "multivariate": False}),
        {"sampler.group": "needs multivariate: true"},
    ),
    (
        "grid with a continuous float",
        spec_dict(sampler={"type": "grid"}, search_space={"max_samples": {"type": "float", "low": 0.1, "high": 1.0}}),
        {"search_space.max_samples.step": "the grid sampler needs a step for a float parameter"},
    ),
    (
        "grid with a condition",
        spec_dict(
            CUSTOM,
            sampler={"type": "grid"},
            search_space={
                "family": {"type": "categorical", "choices": ["x", "y"]},
                "depth": {"type": "int", "low": 2, "high": 8, "condition": {"param": "family", "equals": "x"}},
            },
        ),
        {
            "search_space.depth.condition": (
                "the grid sampler does not support conditional parameters (use random or tpe)"
            )
        },
    ),
    (
        "grid too large",
        spec_dict(
            CUSTOM,
            sampler={"type": "grid"},
            search_space={"a": {"type": "int", "low": 0, "high": 999}, "b": {"type": "int", "low": 0, "high": 999}},
        ),
        {"search_space": "the grid has 1000000 points; at most 100000"},
    ),
    (
        "grid with a warm start",
        spec_dict(sampler={"type": "grid"}, warm_start={"params": [{"n_estimators": 100}]}),
        {"warm_start": "not used with the grid sampler, which visits every grid point anyway"},
    ),
    (
        "pruning several objectives",
        spec_dict(objective=TWO_OBJECTIVES, pruner={"type": "median"}),
        {"pruner.type": "pruning needs a single objective (Optuna cannot prune multi-objective trials)"},
    ),
    (
        "hyperband max_resource",
        spec_dict(pruner={"type": "hyperband", "max_resource": "big"}),
        {"pruner.max_resource": "must be 'auto' or an integer ≥ 1 (got 'big')"},
    ),
    (
        "hyperband resources the wrong way round",
        spec_dict(pruner={"type": "hyperband", "min_resource": 10, "max_resource": 5}),
        {"pruner.max_resource": "must be ≥ min_resource (10) (got 5)"},
    ),
    (
        "option of no pruner",
        spec_dict(pruner={"type": "none", "n_warmup_steps": 3}),
        {"pruner.n_warmup_steps": "not an option of the none pruner; it takes no options"},
    ),
    (
        "pruner type",
        spec_dict(pruner={"type": "asha"}),
        {"pruner.type": "must be one of 'median', 'hyperband', 'none' (got 'asha')"},
    ),
    (
        "a container on the local backend",
        spec_dict(CUSTOM, backend={"type": "local"}),
        {"backend.type": "a custom image runs in a container: use 'batch' or 'kubernetes'"},
    ),
    (
        "an image for local processes",
        spec_dict(backend={"type": "local", "image": "repo/trainer:2"}),
        {"backend.image": "the local backend runs the trainer as a process, not from an image"},
    ),
    (
        "two images",
        spec_dict(CUSTOM, backend={"type": "batch", "image": "repo/trainer:2"}),
        {"backend.image": "not used with a custom model image (model.image is what runs)"},
    ),
    (
        "resources",
        spec_dict(backend={"type": "batch", "resources": {"cpu": 2, "memory_mib": 64, "gpu": -1}}),
        {
            "backend.resources.cpu": "unknown field (did you mean 'vcpu'?); allowed: vcpu, memory_mib, gpu",
            "backend.resources.memory_mib": "must be ≥ 128 (got 64)",
            "backend.resources.gpu": "must be ≥ 0 (got -1)",
        },
    ),
]

WARM_START_AND_OTHER_CASES = [
    (
        "out of range",
        spec_dict(warm_start={"params": [{"n_estimators": 200}, {"n_estimators": 1000}]}),
        {"warm_start.params[1].n_estimators": "must be between 100 and 500 (got 1000)"},
    ),
    (
        "not a choice",
        spec_dict(warm_start={"params": [{"max_features": "log2"}]}),
        {"warm_start.params[0].max_features": "must be one of 'sqrt', 0.5, 1.0 (got 'log2')"},
    ),
    (
        "off the step grid",
        spec_dict(warm_start={"params": [{"n_estimators": 150}]}),
        {"warm_start.params[0].n_estimators": "must be low plus a multiple of step 100 (got 150)"},
    ),
    (
        "not in the search space",
        spec_dict(warm_start={"params": [{"n_trees": 3}]}),
        {"warm_start.params[0].n_trees": "not in the search space; parameters: n_estimators, max_features"},
    ),
    (
        "a conditional parameter whose condition fails or is missing",
        spec_dict(CUSTOM, warm_start={"params": [{"family": "y", "depth": 3}, {"depth": 3}]}),
        {
            "warm_start.params[0].depth": "not used in this set: its condition family == 'x' does not hold",
            "warm_start.params[1].depth": "given without 'family', which its condition family == 'x' needs",
        },
    ),
    (
        "empty warm start",
        spec_dict(warm_start={}),
        {"warm_start": "give 'experiment' (an experiment id) and/or 'params' (a list of parameter sets)"},
    ),
    (
        "not a mapping",
        spec_dict(warm_start={"params": [5]}),
        {"warm_start.params[0]": "must be a mapping (JSON object) (got 5)"},
    ),
    (
        "registered model name and alias",
        spec_dict(register={"model": "Bad Name!", "alias": "x" * 60}),
        {
            "register.model": (
                "must be lower-case letters, digits, '.', '_' or '-', starting with a letter or digit, "
                "≤ 100 characters (got 'Bad Name!')"
            ),
            "register.alias": "must have at most 50 characters",
        },
    ),
    (
        "misspelt top-level field",
        spec_dict(serach_space={}),
        {
            "serach_space": (
                "unknown field (did you mean 'search_space'?); allowed: name, description, dataset, model, "
                "search_space, objective, budget, parallelism, sampler, pruner, backend, trial_timeout_seconds, "
                "retries, seed, repeat_identical_trials, warm_start, register"
            )
        },
    ),
    (
        "name",
        spec_dict(name="EGFR RF"),
        {
            "name": (
                "must be lower-case letters, digits, '.', '_' or '-', starting with a letter or digit, "
                "≤ 100 characters (got 'EGFR RF')"
            )
        },
    ),
    ("missing sections", {"name": "x"}, {f: "required" for f in ("dataset", "model", "search_space", "budget")}),
]


@pytest.mark.parametrize(
    ("data", "expected"),
    [pytest.param(data, expected, id=case) for case, data, expected in SEARCH_SPACE_CASES + CONDITION_CASES],
)
def test_search_space_errors(data, expected):
    assert errors_of(data) == expected


@pytest.mark.parametrize(
    ("data", "expected"), [pytest.param(data, expected, id=case) for case, data, expected in TRAINER_CASES]
)
def test_trainer_parameter_errors(data, expected):
    assert errors_of(data) == expected


@pytest.mark.parametrize(
    ("data", "expected"),
    [pytest.param(data, expected, id=case) for case, data, expected in DATASET_AND_MODEL_CASES],
)
def test_dataset_and_model_errors(data, expected):
    assert errors_of(data) == expected


@pytest.mark.parametrize(
    ("data", "expected"),
    [pytest.param(data, expected, id=case) for case, data, expected in OBJECTIVE_AND_BUDGET_CASES],
)
def test_objective_and_budget_errors(data, expected):
    assert errors_of(data) == expected


@pytest.mark.parametrize(
    ("data", "expected"),
    [pytest.param(data, expected, id=case) for case, data, expected in SAMPLER_PRUNER_BACKEND_CASES],
)
def test_sampler_pruner_and_backend_errors(data, expected):
    assert errors_of(data) == expected


@pytest.mark.parametrize(
    ("data", "expected"),
    [pytest.param(data, expected, id=case) for case, data, expected in WARM_START_AND_OTHER_CASES],
)
def test_warm_start_and_other_errors(data, expected):
    assert errors_of(data) == expected


def test_nan_and_infinity_from_json_text_are_refused():
    text = json.dumps(RF).replace('"low": 100', '"low": NaN').replace('"high": 500', '"high": Infinity')
    assert errors_of(json.loads(text)) == {
        "search_space.n_estimators.low": "must be a finite number (got nan)",
        "search_space.n_estimators.high": "must be a finite number (got inf)",
    }


def test_int_bounds_written_as_whole_floats_are_integers():
    spec = parse_spec(param("n_estimators", type="int", low=100.0, high=500.0, step=100.0))
    bounds = spec.search_space["n_estimators"]
    assert (bounds.low, bounds.high, bounds.step) == (100, 500, 100)
    assert all(type(v) is int for v in (bounds.low, bounds.high, bounds.step))


def test_a_list_of_objectives_keeps_its_indices_in_paths():
    assert errors_of(spec_dict(objective=[{"metric": "rmse"}, {"metric": "auc", "direction": "maximize"}])) == {
        "objective[1].metric": "must be a regression metric the trainer reports: rmse, mae, r2, spearman (got 'auc')"
    }


def test_all_problems_are_reported_together():
    data = spec_dict(name="Bad", parallelism=0, budget={})
    data["search_space"]["n_estimators"]["low"] = 900
    with pytest.raises(SpecError) as caught:
        parse_spec(data)
    assert [e["field"] for e in caught.value.errors] == [
        "name",
        "search_space.n_estimators.low",
        "budget",
        "parallelism",
    ]


class TestSamplersThatCannotTakeTheSpace:
    """Optuna 5.0's CmaEsSampler samples categorical and conditional parameters at random and raises
    on multi-objective studies (and needs the optional `cmaes` package); GPSampler handles both."""

    @pytest.fixture
    def cmaes_installed(self, monkeypatch):
        real = spec_module.find_spec
        monkeypatch.setattr(spec_module, "find_spec", lambda name: object() if name == "cmaes" else real(name))

    @staticmethod
    def sampler_errors(data: dict) -> list[str]:
        with pytest.raises(SpecError) as caught:
            parse_spec(data)
        return [e["message"] for e in caught.value.errors if e["field"] == "sampler.type"]

    @pytest.mark.usefixtures("cmaes_installed")
    def test_cmaes_refuses_categorical_conditional_and_multi_objective(self):
        data = spec_dict(
            CUSTOM,
            sampler={"type": "cmaes"},
            objective=[{"metric": "a", "direction": "minimize"}, {"metric": "b", "direction": "maximize"}],
        )
        assert self.sampler_errors(data) == [
            "cmaes optimises a single objective; use tpe, gp or random",
            "cmaes cannot sample categorical parameters (family, width); use tpe or gp",
            "cmaes needs a fixed search space, not conditional parameters (depth, width)",
        ]

    @pytest.mark.usefixtures("cmaes_installed")
    def test_cmaes_takes_numeric_parameters(self):
        data = spec_dict(sampler={"type": "cmaes", "sigma0": 0.3}, search_space={"n_estimators": RF[S]["n_estimators"]})
        assert parse_spec(data).sampler.to_dict() == {"type": "cmaes", "seed": 0, "n_startup_trials": 1, "sigma0": 0.3}

    def test_a_sampler_whose_package_is_missing_is_refused_at_submission(self, monkeypatch):
        real = spec_module.find_spec
        monkeypatch.setattr(spec_module, "find_spec", lambda name: None if name == "cmaes" else real(name))
        data = spec_dict(sampler={"type": "cmaes"}, search_space={"n_estimators": RF[S]["n_estimators"]})
        assert self.sampler_errors(data) == ["the cmaes sampler needs cmaes, not installed here"]

    def test_gp_takes_categorical_conditional_and_multi_objective(self):
        data = spec_dict(
            CUSTOM,
            sampler={"type": "gp"},
            objective=[{"metric": "a", "direction": "minimize"}, {"metric": "b", "direction": "maximize"}],
        )
        spec = parse_spec(data)
        assert spec.sampler.to_dict() == {"type": "gp", "seed": 0, "n_startup_trials": 10}
        assert spec.pruner.type == "none"
