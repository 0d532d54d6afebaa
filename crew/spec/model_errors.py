"""Pydantic validation errors, translated into violations a user can act on.

Each pydantic error's ``loc`` is followed through the data (union tags such as
``'constrained-str'`` are skipped), the model field it concerns is looked up, and the
message says what is wrong and what to write instead, e.g. ``unknown field 'pivott'``
with the fix ``did you mean 'pivot'?``. Errors of the members of one union are merged.
"""

from __future__ import annotations

import datetime
import re
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails, PydanticUndefined

from sagacrew.crew.spec.model import Command, CommandKind, DomainSpec
from sagacrew.crew.spec.naming import did_you_mean, to_identifier
from sagacrew.crew.spec.violation import Path, Violation

__all__ = ["translate_validation_error"]

_IDENTIFIER_FIX = "use letters, digits and underscores, starting with a letter, e.g. `{}`"

_EXAMPLES: dict[str, str] = {
    "system": "order_fulfilment",
    "identity": "order_id",
    "kind": "create",
    "trigger": "ordering.order.create_order",
    "invoke": "ordering.order.create_order",
    "check": "available >= 0",
    "quantity_field": "available",
    "rejects_when": "total_cents > 50000",
    "event": "approved",
    "undo": "void_authorization",
    "completion_event": "ml.training_run.completed",
    "completion_timeout_s": "600",
    "timeout_s": "2",
    "snapshot_every": "100",
    "params": "[order_id, total_cents]",
    "sets": "{status: approved}",
    "depends_on": "[ordering]",
    "fields": "{order_id: str, total_cents: int}",
    "initial": "{available_gpus: 64}",
    "steps": "[{name: create_order, invoke: ordering.order.create_order}]",
    "invariants": "[{name: total_is_positive, check: total_cents > 0}]",
    "commands": "{create_order: {kind: create}}",
    "aggregates": "{order: {identity: order_id, fields: {order_id: str}, commands: {...}}}",
    "operations": "{authorize_card: {undo: void_authorization}}",
    "contexts": "{ordering: {aggregates: {...}}}",
    "externals": "{payment_gateway: {operations: {...}}}",
    "sagas": "{create_order: {trigger: ordering.order.create_order, steps: [...]}}",
    "retry": "{max_attempts: 3, initial_backoff_s: 0.05}",
    "compensation_retry": "{max_attempts: 3, initial_backoff_s: 0.05}",
    "profiles": "{prod: {success_rate_min: 0.995, consistency_score_min: 0.999}}",
    "workload": "{sagas_per_type: 40, seed: 7}",
    "pivot": "true",
    "idempotent": "true",
    "success_rate_min": "0.995",
    "consistency_score_min": "0.999",
    "title": "Order fulfilment",
    "description": "What this is for.",
}
_NAMED_EXAMPLES: dict[tuple[str, str], str] = {
    ("Invariant", "name"): "total_is_positive",
    ("SagaStep", "name"): "create_order",
}
_MISSING_FIXES: dict[str, str] = {
    "system": "add `system: order_fulfilment` (a snake_case name for the generated package)",
    "contexts": "add `contexts:` with at least one bounded context, "
    "e.g. `contexts: {ordering: {aggregates: {...}}}`",
    "sagas": "add `sagas:` with at least one saga, "
    "e.g. `sagas: {create_order: {trigger: ordering.order.create_order, steps: [...]}}`",
    "aggregates": "add `aggregates:` with at least one aggregate, "
    "e.g. `aggregates: {order: {identity: order_id, fields: {...}, commands: {...}}}`",
    "identity": "add `identity: <field>` naming the field that identifies the aggregate, "
    "e.g. `identity: order_id`",
    "commands": "add `commands:` with at least one command, "
    "e.g. `commands: {create_order: {kind: create}}`",
    "kind": "add `kind: create` (one of create, update, delete, reserve, release, query)",
    "operations": "add `operations:` with at least one operation, "
    "e.g. `operations: {authorize_card: {undo: void_authorization}}`",
    "trigger": "add `trigger:` naming a command or event, "
    "e.g. `trigger: ordering.order.create_order`",
    "steps": "add `steps:`, a list of steps, "
    "e.g. `steps: [{name: create_order, invoke: ordering.order.create_order}]`",
    "invoke": "add `invoke: context.aggregate.command` or `invoke: external.operation`",
    "check": "add `check:` with a condition, e.g. `check: available >= 0`",
}
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
        (item.path[:-1], did_you_mean(str(item.path[-1]), _field_names(item.path[:-1])))
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
        fix = _MISSING_FIXES.get(name, f"add `{name}: {_example((*path, name))}`")
        return Violation(path, f"missing required field '{name}'", fix)
    if kind == "extra_forbidden":
        name = str(path[-1])
        allowed = _field_names(path[:-1])
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
        return Violation(path, f"{label} has no value", _write(path))
    if kind == "too_short":
        return Violation(path, f"{label} is empty; it needs at least one entry", _write(path))
    if kind == "string_too_short":
        return Violation(path, f"{label} must not be empty", _write(path))
    if kind in {"string_too_long", "too_long"}:
        limit = ctx.get("max_length", "the limit")
        return Violation(path, f"{label} is too long (at most {limit})", "shorten it")
    bound = _bound(kind, ctx)
    if bound is not None:
        return Violation(path, f"{label} must be {bound} (got {value!r})", _write(path))
    if _is_type_error(kind):
        expected = _type_word(kind)
        fix = _write(path)
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
        "see the spec's JSON Schema (sagacrew.crew.spec.spec_json_schema) for what fits here",
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
    return Violation(path, f"{_label(path)} must be {expected} (got {_shown(value)})", _write(path))


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
    owner, field_name = _owner(path)
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
    owner, field_name = _owner(path)
    if owner is not None and field_name == last:
        return str(last)
    return f"{parent} entry '{last}'" if parent is not None else f"'{last}'"


def _write(path: Path) -> str:
    _, field_name = _owner(path)
    key = field_name if field_name is not None and path and path[-1] == field_name else None
    if key is None and path and isinstance(path[-1], str):
        key = str(path[-1])
    if key is None:
        return f"write e.g. `{_example(path)}`"
    return f"write e.g. `{key}: {_example(path)}`"


def _example(path: Path) -> str:
    owner, field_name = _owner(path)
    if owner is None or field_name is None:
        if len(path) >= 2 and path[-2] == "fields":
            return "int"
        return "..."
    named = _NAMED_EXAMPLES.get((owner.__name__, field_name))
    if named is not None:
        return named
    if field_name in _EXAMPLES:
        return _EXAMPLES[field_name]
    info = owner.model_fields.get(field_name)
    if info is not None and info.default not in (None, PydanticUndefined):
        default = info.default
        if isinstance(default, Enum):
            return str(default.value)
        if isinstance(default, bool):
            return "true" if default else "false"
        if isinstance(default, int | float | str) and default != "":
            return str(default)
    return "..."


def _field_names(path: Path) -> list[str]:
    model = _model_at(path)
    return sorted(model.model_fields) if model is not None else []


def _model_at(path: Path) -> type[BaseModel] | None:
    annotation = _annotation_at(path)
    return annotation if _is_model(annotation) else None


def _owner(path: Path) -> tuple[type[BaseModel] | None, str | None]:
    """The model that owns the last component of ``path`` as a field, and the field name."""
    if not path or not isinstance(path[-1], str):
        return None, None
    parent = _model_at(path[:-1])
    if parent is not None and path[-1] in parent.model_fields:
        return parent, path[-1]
    return None, None


def _annotation_at(path: Path) -> Any:
    annotation: Any = DomainSpec
    for part in path:
        annotation = _step(annotation, part)
        if annotation is None:
            return None
    return _unwrap(annotation, None)


def _step(annotation: Any, part: str | int) -> Any:
    annotation = _unwrap(annotation, part)
    if _is_model(annotation):
        info: FieldInfo | None = (
            annotation.model_fields.get(part) if isinstance(part, str) else None
        )
        return info.annotation if info is not None else None
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is dict and isinstance(part, str) and len(args) == 2:
        return args[1]
    if origin is list and isinstance(part, int) and args:
        return args[0]
    return None


def _unwrap(annotation: Any, part: str | int | None) -> Any:
    """Strip ``Annotated`` and pick the union member that can hold ``part``."""
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is types.UnionType:
        members = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        for member in members:
            inner = _unwrap(member, part)
            if part is None or _step(inner, part) is not None:
                return inner
        return members[0] if members else annotation
    return annotation


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)
