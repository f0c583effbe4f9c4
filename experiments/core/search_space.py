"""A spec's search space in Optuna's terms: distributions, define-by-run suggestion, value checks.

Parameters are suggested in the order they are declared, so a condition (which may only refer to
an earlier parameter) is evaluated on values already suggested in the same trial; a parameter whose
condition fails is not suggested at all and is absent from the trial's parameters.

Categorical choices that are lists (e.g. MLP `hidden_layers: [[256], [512, 128]]`) are given to
Optuna as their JSON text, because Optuna's storages keep scalar choices only; `suggest` and
`decode_params` turn them back into lists, `encode_params` does the reverse for enqueued trials.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution

from .errors import SpecError, path
from .spec import ExperimentSpec, ParamSpec, encode_value, param_set_errors


def to_distribution(param: ParamSpec) -> BaseDistribution:
    """One parameter as an Optuna distribution (categorical choices encoded, see the module docstring)."""
    if param.type == "categorical":
        return CategoricalDistribution([encode_value(c) for c in param.choices or []])
    assert param.low is not None
    assert param.high is not None
    if param.type == "int":
        return IntDistribution(int(param.low), int(param.high), log=param.log, step=int(param.step or 1))
    return FloatDistribution(param.low, param.high, log=param.log, step=param.step)


def to_distributions(spec: ExperimentSpec) -> dict[str, BaseDistribution]:
    """Every parameter, conditional ones included, in declaration order (for `create_trial`, plots)."""
    return {name: to_distribution(param) for name, param in spec.search_space.items()}


def suggest(trial: optuna.trial.BaseTrial, spec: ExperimentSpec) -> dict[str, Any]:
    """Suggest the parameters of one trial, in declaration order, skipping those whose condition fails.

    Returns the values as the trainer takes them (list choices decoded); the trial itself records
    the encoded values.
    """
    params: dict[str, Any] = {}
    for name, param in spec.search_space.items():
        if param.condition is not None and not param.condition.holds(params):
            continue
        params[name] = _suggest_one(trial, name, param)
    return params


def _suggest_one(trial: optuna.trial.BaseTrial, name: str, param: ParamSpec) -> Any:
    if param.type == "categorical":
        choices = param.choices or []
        encoded = trial.suggest_categorical(name, [encode_value(c) for c in choices])
        return next(c for c in choices if encode_value(c) == encoded)
    assert param.low is not None
    assert param.high is not None
    if param.type == "int":
        return trial.suggest_int(name, int(param.low), int(param.high), step=int(param.step or 1), log=param.log)
    return trial.suggest_float(name, param.low, param.high, step=param.step, log=param.log)


def encode_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Values as Optuna stores them (list values as JSON text): for `enqueue_trial`."""
    return {name: encode_value(value) for name, value in params.items()}


def decode_params(spec: ExperimentSpec, params: Mapping[str, Any]) -> dict[str, Any]:
    """A trial's stored parameters (e.g. `study.best_params`) as the trainer takes them."""
    out: dict[str, Any] = {}
    for name, value in params.items():
        param = spec.search_space.get(name)
        if param is not None and param.type == "categorical" and isinstance(value, str):
            value = next((c for c in param.choices or [] if encode_value(c) == value), value)
        out[name] = value
    return out


def validate_params(spec: ExperimentSpec, params: Mapping[str, Any]) -> dict[str, Any]:
    """Check a parameter set (a warm start, a hand-picked trial) against the search space.

    Returns the normalised values; `SpecError` whose fields are the offending parameter names.
    Left-out parameters are fine (they get sampled); a given conditional parameter must have its
    condition hold within the set.
    """
    values, errors = param_set_errors(spec.search_space, params)
    if errors:
        raise SpecError([{"field": path(loc), "message": message} for loc, message in errors])
    return values
