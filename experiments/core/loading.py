"""Spec text (JSON or YAML) → plain Python data, with errors that give the line and column.

YAML goes through a `yaml.SafeLoader` subclass (still only plain data: no Python objects) with three
changes that matter for hand-written specs:
- `1e-5` is a float. YAML 1.1, which PyYAML implements, reads an exponent without a dot (or without
  a sign) as a *string*, so `low: 1e-5` would otherwise fail as "not a number".
- a key given twice in one mapping is an error, not silently the last value (JSON too).
- anchors and aliases are refused: a spec never needs them, and nested aliases can make a tiny
  document expand into an enormous one.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

import yaml

from .errors import SpecError

MAX_SPEC_BYTES = 1 << 20

Format = Literal["json", "yaml"]


class _SpecLoader(yaml.SafeLoader):
    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise yaml.composer.ComposerError(None, None, "anchors and aliases (*name) are not supported", mark)
        return super().compose_node(parent, index)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
                seen.add(key)
            except TypeError:  # unhashable key: let the base class report it
                break
            if duplicate:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        return super().construct_mapping(node, deep=deep)


_SpecLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def _root_error(message: str) -> SpecError:
    return SpecError([{"field": "", "message": message}])


def load_text(text: str | bytes, format: Format | None = None) -> Any:
    """Parse JSON or YAML text (`format=None`: JSON when it starts with "{", YAML otherwise)."""
    if isinstance(text, bytes):
        if len(text) > MAX_SPEC_BYTES:
            raise _root_error(f"the spec is larger than {MAX_SPEC_BYTES} bytes")
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _root_error(f"the spec is not UTF-8 text: {exc}") from exc
    if len(text) > MAX_SPEC_BYTES:
        raise _root_error(f"the spec is larger than {MAX_SPEC_BYTES} characters")
    if format is None:
        format = "json" if text.lstrip().startswith("{") else "yaml"
    if format == "json":
        try:
            return json.loads(text, object_pairs_hook=_no_duplicates)
        except json.JSONDecodeError as exc:
            raise _root_error(f"not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}") from exc
        except ValueError as exc:  # from _no_duplicates
            raise _root_error(f"not valid JSON: {exc}") from exc
    if format != "yaml":
        raise ValueError(f"format must be 'json' or 'yaml', not {format!r}")
    try:
        return yaml.load(text, Loader=_SpecLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise _root_error(f"not valid YAML{where}: {problem}") from exc
