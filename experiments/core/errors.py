"""`SpecError` and the translation of pydantic's errors into messages that name the bad field.

A spec is written by hand, so every problem is reported at once, each with the dotted path of the
field at fault (`search_space.n_estimators.low`, `warm_start.params[1].max_depth`) and a message
that says what is allowed instead of what the validator expected internally.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import PydanticCustomError

Loc = tuple[str | int, ...]

# A model validator that finds several problems raises one error of this type carrying them all.
MANY = "spec_errors"


class SpecError(ValueError):
    """An invalid experiment spec: `errors` is a list of `{"field": "a.b[0].c", "message": "..."}`."""

    def __init__(self, errors: Sequence[Mapping[str, str]]) -> None:
        self.errors = [{"field": e["field"], "message": e["message"]} for e in errors]
        super().__init__(str(self))

    def __str__(self) -> str:
        lines = [f"{e['field']}: {e['message']}" if e["field"] else e["message"] for e in self.errors]
        if len(lines) == 1:
            return lines[0]
        return f"{len(lines)} problems in the experiment spec:\n" + "\n".join(f"- {line}" for line in lines)


def problems(errors: Iterable[tuple[Loc, str]]) -> PydanticCustomError:
    """One pydantic error carrying several (relative location, message) pairs; see `translate`."""
    errors = list(errors)
    return PydanticCustomError(MANY, "{summary}", {"summary": errors[0][1], "errors": errors})


def path(loc: Sequence[str | int]) -> str:
    """("search_space", "x", "choices", 2) → "search_space.x.choices[2]"."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def show(value: Any) -> str:
    """A short repr for messages, in JSON/YAML words for true, false and null; long values are cut."""
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


_TYPE_WORDS = {
    "int_type": "an integer",
    "int_from_float": "an integer",
    "int_parsing": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "string_type": "a string",
    "list_type": "a list",
    "dict_type": "a mapping (JSON object)",
    "model_type": "a mapping (JSON object)",
    "model_attributes_type": "a mapping (JSON object)",
}
_BOUNDS = {"greater_than": ">", "greater_than_equal": "≥", "less_than": "<", "less_than_equal": "≤"}


def _message(error: Mapping[str, Any], allowed: list[str] | None) -> str:
    kind, ctx, value = error["type"], error.get("ctx") or {}, error.get("input")
    if kind == "missing":
        return "required"
    if kind == "extra_forbidden":
        name = str(error["loc"][-1])
        if not allowed:
            return "unknown field"
        hint = difflib.get_close_matches(name, allowed, n=1)
        suggestion = f" (did you mean {hint[0]!r}?)" if hint else ""
        return f"unknown field{suggestion}; allowed: {', '.join(allowed)}"
    if kind in _TYPE_WORDS:
        return f"must be {_TYPE_WORDS[kind]} (got {show(value)})"
    if kind == "finite_number":
        return f"must be a finite number (got {show(value)})"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected', '?').replace(' or ', ', ')} (got {show(value)})"
    if kind in _BOUNDS:
        bound = next(iter(ctx.values()))
        return f"must be {_BOUNDS[kind]} {show(bound)} (got {show(value)})"
    if kind == "string_too_short":
        return (
            "must not be empty" if ctx.get("min_length") == 1 else f"must have at least {ctx['min_length']} characters"
        )
    if kind == "string_too_long":
        return f"must have at most {ctx['max_length']} characters"
    if kind == "too_short":
        return "must not be empty" if ctx.get("min_length") == 1 else f"must have at least {ctx['min_length']} items"
    if kind == "too_long":
        return f"must have at most {ctx['max_length']} items"
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    return str(error["msg"])


def translate(exc: ValidationError, root: type[BaseModel], raw: Any, *, unwrapped: Iterable[str] = ()) -> SpecError:
    """pydantic's `ValidationError` → `SpecError` with dotted paths and plain messages.

    `unwrapped`: top-level fields given as a single mapping that the model wraps into a list (the
    list index is dropped from their paths so the path matches what was written).
    """
    unwrapped = set(unwrapped)
    out: list[dict[str, str]] = []
    for error in exc.errors():
        loc: Loc = tuple(error["loc"])
        if error["type"] == MANY:
            pairs = [((*loc, *rel), message) for rel, message in error["ctx"]["errors"]]
        else:
            allowed = _allowed_fields(root, raw, loc[:-1]) if error["type"] == "extra_forbidden" else None
            pairs = [(loc, _message(error, allowed))]
        for full, message in pairs:
            if len(full) >= 2 and full[0] in unwrapped and full[1] == 0:
                full = (full[0], *full[2:])
            out.append({"field": path(full), "message": message})
    # the same (field, message) can come from two validators; keep each once, in order
    unique = {(e["field"], e["message"]): e for e in out}
    return SpecError(list(unique.values()))


def _strip_optional(annotation: Any) -> Any:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return args[0] if len(args) == 1 else annotation
    return annotation


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _allowed_fields(root: type[BaseModel], raw: Any, loc: Loc) -> list[str] | None:
    """The field names accepted at `loc` (for "unknown field" messages), following the raw input."""
    annotation: Any = root
    data = raw
    for part in loc:
        annotation = _strip_optional(annotation)
        if _is_model(annotation):
            fields = {(f.alias or name): f for name, f in annotation.model_fields.items()}
            field = fields.get(part) if isinstance(part, str) else None
            if field is None:
                return None
            annotation = field.annotation
        elif typing.get_origin(annotation) in (list, dict):
            annotation = typing.get_args(annotation)[-1]
        else:
            return None
        if isinstance(data, Mapping) and not isinstance(part, int):
            data = data.get(part)
        elif isinstance(data, list) and isinstance(part, int) and part < len(data):
            data = data[part]
    annotation = _strip_optional(annotation)
    if typing.get_origin(annotation) is list:  # a single mapping given where a list is accepted
        annotation = _strip_optional(typing.get_args(annotation)[0])
    if not _is_model(annotation):
        return None
    fields_for = getattr(annotation, "fields_for", None)
    if fields_for is not None:
        return list(fields_for(data if isinstance(data, Mapping) else {}))
    return [f.alias or name for name, f in annotation.model_fields.items()]
