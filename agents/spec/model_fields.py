"""Which model field a place in the spec data concerns.

A path such as ``('contexts', 'ordering', 'aggregates', 'order', 'identity')`` is followed
through the :class:`~sagacrew.agents.spec.model.DomainSpec` annotations (``Annotated`` is
stripped, dict values and list items are entered, and of a union the member that can hold
the next part is taken) to the model that owns the last part as a field.
"""

from __future__ import annotations

import types
import typing
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from sagacrew.agents.spec.model import DomainSpec
from sagacrew.agents.spec.violation import Path


def field_names(path: Path) -> list[str]:
    """The field names of the model at ``path`` as a spec writes them (aliases, e.g.
    ``with``), sorted (none when no model is there)."""
    model = _model_at(path)
    return sorted(_by_spec_name(model)) if model is not None else []


def _by_spec_name(model: type[BaseModel]) -> dict[str, tuple[str, FieldInfo]]:
    """Each field by the name a spec writes (its alias, if any) → (Python name, info)."""
    return {info.alias or name: (name, info) for name, info in model.model_fields.items()}


def _model_at(path: Path) -> type[BaseModel] | None:
    """The model class at ``path``, if the value there is a model."""
    annotation = _annotation_at(path)
    return annotation if _is_model(annotation) else None


def field_owner(path: Path) -> tuple[type[BaseModel] | None, str | None]:
    """The model that owns the last component of ``path`` as a field, and the field name."""
    if not path or not isinstance(path[-1], str):
        return None, None
    parent = _model_at(path[:-1])
    if parent is not None and path[-1] in _by_spec_name(parent):
        return parent, _by_spec_name(parent)[path[-1]][0]
    return None, None


def _annotation_at(path: Path) -> Any:
    """The type annotation of the value at ``path`` (``None`` when the path leaves the model)."""
    annotation: Any = DomainSpec
    for part in path:
        annotation = _step(annotation, part)
        if annotation is None:
            return None
    return _unwrap(annotation, None)


def _step(annotation: Any, part: str | int) -> Any:
    """The annotation one level down: a model's field, a dict's value or a list's item."""
    annotation = _unwrap(annotation, part)
    if _is_model(annotation):
        found = _by_spec_name(annotation).get(part) if isinstance(part, str) else None
        return found[1].annotation if found is not None else None
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
    """Whether ``annotation`` is a pydantic model class."""
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)
