"""Pydantic validation errors, translated into violations a user can act on.

Each pydantic error's ``loc`` is followed through the data (union tags such as
``'constrained-str'`` are skipped), the model field it concerns is looked up, and the
message says what is wrong and what to write instead, e.g. ``unknown field 'pivott'``
with the fix ``did you mean 'pivot'?``. Errors of the members of one union are merged.
The model field behind a path is found by :mod:`~sagacrew.agents.spec.model_fields`, the
example values the fixes suggest come from :mod:`~sagacrew.agents.spec.model_examples`.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from sagacrew.agents.spec.model import Command, CommandKind
from sagacrew.agents.spec.model_examples import MISSING_FIXES, example, write_fix
from sagacrew.agents.spec.model_fields import field_names, field_owner
from sagacrew.agents.spec.naming import did_you_mean, to_identifier
from sagacrew.agents.spec.violation import Path, Violation

__all__ = ["translate_validation_error"]

_IDENTIFIER_FIX = "use letters, digits and underscores, starting with a letter, e.g. `{}`"

_TYPE_WORDS: dict[str, str] = {
    "string": "text",
    "int": "a whole number",
    "float": "a number",
    "bool": "a boolean (true or false)",
    "dict": "a mapping",
    "list": "a list",
    "model": "a mapping",
    "model_attributes": "a mapping",
}


@dataclass(frozen=True)
class _Located:
    """A pydantic error, followed through the data."""

    details: ErrorDetails
    path: Path
    rest: tuple[str | int, ...]
    at_key: bool


def translate_validation_error(error: ValidationError, data: Any) -> list[Violation]:
    """Turn every error of ``error`` (raised validating ``data``) into a :class:`Violation`."""
    located = [_locate(details, data) for details in error.errors(include_url=False)]
    unknown = {
        (item.path[:-1], did_you_mean(str(item.path[-1]), field_names(item.path[:-1])))
        for item in located
        if item.details["type"] == "extra_forbidden" and item.path
    }
    groups: dict[tuple[Path, bool, str], list[_Located]] = {}
    for item in located:
        kind = "type" if _is_type_error(item.details["type"]) and not item.at_key else "other"
        groups.setdefault((item.path, item.at_key, kind), []).append(item)
    violations: list[Violation] = []
    for (_, _, kind), items in groups.items():
        if kind == "type" and len(items) > 1:
            violations.append(_union_violation(items))
            continue
        for item in items:
            if item.details["type"] == "missing" and (item.path, str(item.rest[-1])) in unknown:
                continue
            violations.append(_violation(item))
    return violations


def _locate(details: ErrorDetails, data: Any) -> _Located:
    node = data
    path: list[str | int] = []
    rest: list[str | int] = []
    at_key = False
    for part in details["loc"]:
        if part == "[key]":
            at_key = True
            break
        child = _child(node, part)
        if child is _ABSENT:
            rest.append(part)
        else:
            node = child
            path.append(part)
    return _Located(details, tuple(path), tuple(rest), at_key)


_ABSENT = object()


def _child(node: Any, part: str | int) -> Any:
    """``node[part]`` if ``node`` is a dict with key ``part`` or a list with index ``part``."""
    if isinstance(node, dict) and isinstance(part, str):
        return node.get(part, _ABSENT)
    if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        return node[part]
    return _ABSENT


def _is_type_error(kind: str) -> bool:
    return kind.endswith(("_type", "_parsing")) or kind in {"int_from_float", "enum"}


def _violation(item: _Located) -> Violation:
    details = item.details
    kind = details["type"]
    path = item.path
    value = details.get("input")
    ctx = details.get("ctx") or {}
    if kind == "missing":
        name = str(item.rest[-1]) if item.rest else "?"
        fix = MISSING_FIXES.get(name, f"add `{name}: {example((*path, name))}`")
        return Violation(path, f"missing required field '{name}'", fix)
    if kind == "extra_forbidden":
        name = str(path[-1])
        allowed = field_names(path[:-1])
        best = did_you_mean(name, allowed)
        fix = (
            f"did you mean '{best}'?"
            if best is not None
            else "remove it; the fields allowed here are " + ", ".join(allowed)
        )
        return Violation(path, f"unknown field '{name}'", fix, at_key=True)
    label = _label(path)
    if item.at_key:
        return _key_violation(path, label, kind, ctx)
    if kind == "string_pattern_mismatch":
        if path and path[-1] == "invoke":
            return Violation(
                path,
                f"invoke '{value}' must be `context.aggregate.command` or `external.operation`",
                "write e.g. `invoke: ordering.order.create_order`",
            )
        return Violation(
            path,
            f"{label} '{value}' is not a valid name",
            _IDENTIFIER_FIX.format(to_identifier(str(value))),
        )
    if kind in {"enum", "literal_error"}:
        return _choice_violation(path, label, value, ctx)
    if value is None and (_is_type_error(kind) or kind.startswith("too_short")):
        return Violation(path, f"{label} has no value", write_fix(path))
    if kind == "too_short":
        return Violation(path, f"{label} is empty; it needs at least one entry", write_fix(path))
    if kind == "string_too_short":
        return Violation(path, f"{label} must not be empty", write_fix(path))
    if kind in {"string_too_long", "too_long"}:
        limit = ctx.get("max_length", "the limit")
        return Violation(path, f"{label} is too long (at most {limit})", "shorten it")
    bound = _bound(kind, ctx)
    if bound is not None:
        return Violation(path, f"{label} must be {bound} (got {value!r})", write_fix(path))
    if _is_type_error(kind):
        expected = _type_word(kind)
        fix = write_fix(path)
        if kind == "string_type" and isinstance(value, bool):
            fix = (
                "quote the value (YAML reads unquoted yes, no, on, off, true and false as booleans)"
            )
        elif kind == "string_type" and isinstance(value, datetime.date):
            fix = f"quote it (YAML read it as a date), e.g. `'{value.isoformat()}'`"
        return Violation(path, f"{label} must be {expected} (got {_shown(value)})", fix)
    return Violation(
        path,
        f"{label}: {details['msg']}",
        "see the spec's JSON Schema (sagacrew.agents.spec.spec_json_schema) for what fits here",
    )


def _union_violation(items: Sequence[_Located]) -> Violation:
    path = items[0].path
    words: list[str] = []
    for item in items:
        word = _type_word(item.details["type"])
        if word not in words:
            words.append(word)
    if "a number" in words and "a whole number" in words:
        words.remove("a whole number")
    expected = words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]
    value = items[0].details.get("input")
    return Violation(
        path, f"{_label(path)} must be {expected} (got {_shown(value)})", write_fix(path)
    )


def _key_violation(path: Path, label: str, kind: str, ctx: dict[str, Any]) -> Violation:
    key = str(path[-1]) if path else "?"
    if kind == "literal_error":
        allowed = _quoted_choices(str(ctx.get("expected", "")))
        best = did_you_mean(key, allowed) or (allowed[0] if allowed else key)
        return Violation(
            path,
            f"'{key}' is not allowed here; the names allowed are " + ", ".join(allowed),
            f"write e.g. `{best}:`",
            at_key=True,
        )
    return Violation(
        path,
        f"'{key}' is not a valid name",
        _IDENTIFIER_FIX.format(to_identifier(key)),
        at_key=True,
    )


def _choice_violation(path: Path, label: str, value: Any, ctx: dict[str, Any]) -> Violation:
    owner, field_name = field_owner(path)
    allowed = _quoted_choices(str(ctx.get("expected", "")))
    if owner is Command and field_name == "kind":
        allowed = [kind.value for kind in CommandKind if kind is not CommandKind.EXTERNAL]
    best = did_you_mean(str(value), allowed) or (allowed[0] if allowed else "...")
    key = field_name if field_name is not None else str(path[-1]) if path else label
    return Violation(
        path,
        f"{label} {str(value)!r} is not one of {', '.join(allowed)}",
        f"write e.g. `{key}: {best}`",
    )


def _quoted_choices(expected: str) -> list[str]:
    return re.findall(r"'([^']*)'", expected)


def _bound(kind: str, ctx: dict[str, Any]) -> str | None:
    words = {
        "greater_than": ("gt", "greater than"),
        "greater_than_equal": ("ge", "at least"),
        "less_than": ("lt", "less than"),
        "less_than_equal": ("le", "at most"),
    }
    if kind not in words:
        return None
    key, word = words[kind]
    limit = ctx.get(key)
    return f"{word} {limit}" if limit is not None else word


def _type_word(kind: str) -> str:
    base = kind.removesuffix("_type").removesuffix("_parsing")
    if kind == "int_from_float":
        base = "int"
    return _TYPE_WORDS.get(base, base.replace("_", " "))


def _shown(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return "true" if value else "false"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _label(path: Path) -> str:
    """A short name for the value at ``path``: ``kind``, ``params item 2``, ``fields entry 'x'``."""
    if not path:
        return "the spec"
    last = path[-1]
    parent = path[-2] if len(path) > 1 else None
    if isinstance(last, int):
        return f"{parent} item {last + 1}" if parent is not None else f"item {last + 1}"
    owner, field_name = field_owner(path)
    if owner is not None and field_name == last:
        return str(last)
    return f"{parent} entry '{last}'" if parent is not None else f"'{last}'"
