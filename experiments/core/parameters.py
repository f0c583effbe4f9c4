"""Search-space parameters of a spec: their models, the values they can take, conditions between them.

Kept apart from the rest of the spec because the search space is also what a trial's parameters
are checked against (warm starts, enqueued trials) and what the Optuna glue turns into distributions.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Literal, Self, get_args

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from .errors import Loc, problems, show

ParamType = Literal["float", "int", "categorical"]
PARAM_TYPES: tuple[str, ...] = get_args(ParamType)

_SCALARS = (str, int, float, bool, type(None))


def choice_problem(value: Any) -> str | None:
    """Why `value` cannot be a categorical choice (None if it can): Optuna stores scalars only, and
    lists (e.g. MLP layer widths) are stored as their JSON text, so nothing deeper is allowed."""
    items = value if isinstance(value, list) else [value]
    if isinstance(value, list) and len(value) > 64:
        return "a list choice may hold at most 64 values"
    for item in items:
        if not isinstance(item, _SCALARS):
            return f"must be a string, number, true/false, null or a list of those (got {show(value)})"
        if isinstance(item, float) and not math.isfinite(item):
            return f"must be a finite number (got {show(value)})"
        if isinstance(item, str) and len(item) > 200:
            return "strings may have at most 200 characters"
    return None


def same_value(a: Any, b: Any) -> bool:
    """Equality that keeps true apart from 1 (Python's `True == 1`), used to evaluate conditions."""
    if isinstance(a, list) or isinstance(b, list):
        return isinstance(a, list) and isinstance(b, list) and len(a) == len(b) and all(map(same_value, a, b))
    if isinstance(a, bool) or isinstance(b, bool) or a is None or b is None:
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    return type(a) is type(b) and a == b


def encode_value(value: Any) -> Any:
    """A categorical value as Optuna stores it: lists become their JSON text, scalars stay as they are."""
    return json.dumps(value) if isinstance(value, list) else value


def _dec(x: float) -> Decimal:
    return Decimal(repr(x)) if isinstance(x, float) else Decimal(x)


def _as_number(x: Decimal) -> int | float:
    return int(x) if x == x.to_integral_value() else float(x)


def _on_step(value: float, low: float, step: float) -> bool:
    return (_dec(value) - _dec(low)) % _dec(step) == 0


# Models -------------------------------------------------------------------------------------------
class SpecModel(BaseModel):
    """Base of the spec's models: strict types, unknown keys rejected, no NaN or infinity."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    @classmethod
    def fields_for(cls, raw: Mapping[str, Any]) -> list[str]:
        """Field names accepted given the raw input (for "unknown field; allowed: ..." messages)."""
        return [f.alias or name for name, f in cls.model_fields.items()]


def pattern(regex: re.Pattern[str], what: str) -> AfterValidator:
    def check(value: str) -> str:
        if not regex.match(value):
            raise ValueError(f"must be {what} (got {show(value)})")
        return value

    return AfterValidator(check)


class Condition(SpecModel):
    """Suggest a parameter only when an earlier one `equals` a value or is `in` a list of values."""

    param: str
    equals: Any = None
    in_: list[Any] | None = Field(default=None, alias="in")

    @model_validator(mode="after")
    def _one_test(self) -> Self:
        errors: list[tuple[Loc, str]] = []
        has_equals = "equals" in self.model_fields_set
        if has_equals == (self.in_ is not None):
            errors.append(((), "give exactly one of 'equals' (a value) or 'in' (a list of values)"))
        elif self.in_ is not None:
            if not self.in_:
                errors.append((("in",), "must not be empty"))
            errors += [(("in", i), p) for i, v in enumerate(self.in_) if (p := choice_problem(v))]
        elif problem := choice_problem(self.equals):
            errors.append((("equals",), problem))
        if errors:
            raise problems(errors)
        return self

    @property
    def values(self) -> list[Any]:
        return list(self.in_) if self.in_ is not None else [self.equals]

    def holds(self, params: Mapping[str, Any]) -> bool:
        """True when the parameter it depends on was suggested and has one of the values."""
        return self.param in params and any(same_value(params[self.param], v) for v in self.values)

    def describe(self) -> str:
        if self.in_ is not None:
            return f"{self.param} in [{', '.join(show(v) for v in self.in_)}]"
        return f"{self.param} == {show(self.equals)}"

    def to_dict(self) -> dict[str, Any]:
        if self.in_ is not None:
            return {"param": self.param, "in": list(self.in_)}
        return {"param": self.param, "equals": self.equals}


_PARAM_FIELDS = {
    "float": ("type", "low", "high", "log", "step", "condition"),
    "int": ("type", "low", "high", "log", "step", "condition"),
    "categorical": ("type", "choices", "condition"),
}


class ParamSpec(SpecModel):
    """One search-space parameter: float or int in [low, high] (optionally log-scaled or stepped), or
    one of `choices`; with a `condition`, suggested only when the condition holds."""

    type: ParamType
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: list[Any] | None = None
    condition: Condition | None = None

    @classmethod
    def fields_for(cls, raw: Mapping[str, Any]) -> list[str]:
        return list(_PARAM_FIELDS.get(raw.get("type"), super().fields_for(raw)))  # type: ignore[arg-type]

    @model_validator(mode="after")
    def _check(self) -> Self:
        errors = self._categorical_errors() if self.type == "categorical" else self._range_errors()
        if errors:
            raise problems(errors)
        return self

    def _categorical_errors(self) -> list[tuple[Loc, str]]:
        errors: list[tuple[Loc, str]] = [
            ((f,), "not used by a categorical parameter")
            for f in ("low", "high", "log", "step")
            if f in self.model_fields_set
        ]
        if self.choices is None:
            return [*errors, (("choices",), "required for a categorical parameter")]
        if not self.choices:
            return [*errors, (("choices",), "must not be empty")]
        for i, choice in enumerate(self.choices):
            if problem := choice_problem(choice):
                errors.append((("choices", i), problem))
                continue
            for j, earlier in enumerate(self.choices[:i]):
                if choice == earlier or encode_value(choice) == encode_value(earlier):
                    errors.append((("choices", i), f"duplicate of choices[{j}] ({show(earlier)})"))
                    break
        return errors

    def _range_errors(self) -> list[tuple[Loc, str]]:
        kind = self.type
        errors: list[tuple[Loc, str]] = []
        if "choices" in self.model_fields_set:
            errors.append((("choices",), f"not used by {'an' if kind == 'int' else 'a'} {kind} parameter"))
        for name in ("low", "high"):
            if getattr(self, name) is None:
                errors.append(((name,), f"required for {'an' if kind == 'int' else 'a'} {kind} parameter"))
        if kind == "int":
            for name in ("low", "high", "step"):
                value = getattr(self, name)
                if value is None:
                    continue
                if not float(value).is_integer():
                    errors.append(((name,), f"must be an integer for an int parameter (got {show(value)})"))
                else:
                    setattr(self, name, int(value))
            if self.step is None:
                self.step = 1
        if errors:
            return errors
        low, high, step = self.low, self.high, self.step
        assert low is not None
        assert high is not None
        if low >= high:
            errors.append((("low",), f"must be less than high (got {show(low)} ≥ {show(high)})"))
        elif self.log and low <= 0:
            errors.append((("low",), f"must be > 0 when log is true (got {show(low)})"))
        if step is not None:
            if step <= 0:
                errors.append((("step",), f"must be > 0 (got {show(step)})"))
            elif self.log and kind == "float":
                errors.append((("step",), "cannot be combined with log: true (log-scaled floats are continuous)"))
            elif self.log and step != 1:
                errors.append((("step",), f"must be 1 when log is true (got {show(step)})"))
            elif low < high and not _on_step(high, low, step):
                span = _as_number(_dec(high) - _dec(low))
                errors.append((("step",), f"must divide high - low ({show(span)}) exactly (got {show(step)})"))
        return errors

    def check_value(self, value: Any) -> tuple[Any, str | None]:
        """(the value as this parameter holds it, None) or (None, why it is not a possible value)."""
        if self.type == "categorical":
            assert self.choices is not None
            for choice in self.choices:
                if same_value(value, choice):
                    return choice, None
            listed = ", ".join(show(c) for c in self.choices[:10]) + (", ..." if len(self.choices) > 10 else "")
            return None, f"must be one of {listed} (got {show(value)})"
        is_int = self.type == "int"
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            return None, f"must be {'an integer' if is_int else 'a number'} (got {show(value)})"
        if is_int and not float(value).is_integer():
            return None, f"must be an integer (got {show(value)})"
        value = int(value) if is_int else float(value)
        assert self.low is not None
        assert self.high is not None
        if not self.low <= value <= self.high:
            return None, f"must be between {show(self.low)} and {show(self.high)} (got {show(value)})"
        if self.step is not None and self.step != 1 and not _on_step(value, self.low, self.step):
            return None, f"must be low plus a multiple of step {show(self.step)} (got {show(value)})"
        return value, None

    def grid_values(self) -> list[Any] | None:
        """Every value the parameter can take (None for a continuous float)."""
        if self.type == "categorical":
            return list(self.choices or [])
        if self.step is None:
            return None
        assert self.low is not None
        assert self.high is not None
        low, step = _dec(self.low), _dec(self.step)
        count = int((_dec(self.high) - low) / step) + 1
        if self.type == "int":
            return [int(low + k * step) for k in range(count)]
        return [float(low + k * step) for k in range(count)]

    def grid_size(self) -> int | None:
        if self.type == "categorical":
            return len(self.choices or [])
        if self.step is None or self.low is None or self.high is None:
            return None
        return int((_dec(self.high) - _dec(self.low)) / _dec(self.step)) + 1

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        if self.type == "categorical":
            out["choices"] = list(self.choices or [])
        else:
            out.update(low=self.low, high=self.high, log=self.log)
            if self.step is not None:
                out["step"] = self.step
        if self.condition is not None:
            out["condition"] = self.condition.to_dict()
        return out


def param_set_errors(space: Mapping[str, ParamSpec], params: Any) -> tuple[dict[str, Any], list[tuple[Loc, str]]]:
    """Check one set of parameter values against a search space (warm starts, enqueued trials).

    Returns the values as the parameters hold them (ints as ints, categorical values as the choice)
    and a list of (parameter name,) → message problems. Parameters left out are sampled as usual;
    a given parameter must be one that would be suggested: its condition must hold in the set.
    """
    if not isinstance(params, Mapping):
        return {}, [((), f"must be a mapping of parameter names to values (got {show(params)})")]
    errors: list[tuple[Loc, str]] = []
    known = ", ".join(space)
    errors += [((name,), f"not in the search space; parameters: {known}") for name in params if name not in space]
    out: dict[str, Any] = {}
    for name, spec in space.items():
        if name not in params:
            continue
        condition = spec.condition
        if condition is not None and condition.param not in params:
            errors.append(
                ((name,), f"given without {condition.param!r}, which its condition {condition.describe()} needs")
            )
            continue
        if condition is not None and condition.param not in out:
            continue  # the parameter it depends on is itself wrong; that is reported already
        if condition is not None and not condition.holds(out):
            errors.append(((name,), f"not used in this set: its condition {condition.describe()} does not hold"))
            continue
        value, problem = spec.check_value(params[name])
        if problem is not None:
            errors.append(((name,), problem))
        else:
            out[name] = value
    return out, errors
