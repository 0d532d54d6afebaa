"""Edits: what an accepted proposal item changes in the blueprint, and applying them.

An ``Edit`` sets values at paths into the blueprint's JSON form, or appends to a list
there. Only the paths of ``ALLOWED_SETS`` and ``ALLOWED_APPENDS`` may be touched (the
descriptions, a supervisor's limits and rationale, and new checks and fault scenarios);
``apply_edits`` refuses any other path, so no edit can rename an address or move a pivot.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sagacrew.agents.blueprint import Blueprint
from sagacrew.crew.llm.errors import EditPathError

JsonPath = tuple[str | int, ...]

SUPERVISION_FIELDS = ("intensity", "period_s", "backoff_min_s", "backoff_max_s", "rationale")
"""Supervisor fields the LLM may refine."""

ALLOWED_SETS: tuple[tuple[str | type[int], ...], ...] = (
    ("actors", "actors", int, "description"),
    *(("actors", "supervisors", int, name) for name in SUPERVISION_FIELDS),
    ("sagas", "sagas", int, "description"),
    ("sagas", "sagas", int, "steps", int, "description"),
    ("events", "events", int, "description"),
)
"""Shapes of the paths an edit may set (``int`` stands for any list index)."""
ALLOWED_APPENDS: tuple[JsonPath, ...] = (("validation", "queries"), ("validation", "faults"))
"""Lists an edit may append to."""


@dataclass(frozen=True)
class Edit:
    """One accepted proposal item: a label for the user and what it changes."""

    label: str
    sets: tuple[tuple[JsonPath, Any], ...] = ()
    appends: tuple[tuple[JsonPath, Any], ...] = ()


def _matches(path: JsonPath, shape: tuple[str | type[int], ...]) -> bool:
    if len(path) != len(shape):
        return False
    return all(
        (isinstance(p, int) and s is int) if isinstance(s, type) else p == s
        for p, s in zip(path, shape, strict=True)
    )


def _container(data: Any, path: JsonPath) -> Any:
    for key in path:
        data = data[key]
    return data


def apply_edits(blueprint: Blueprint, edits: Iterable[Edit]) -> Blueprint:
    """A new blueprint with ``edits`` applied in order, validated by the blueprint model.

    Raises ``EditPathError`` for a path outside the allowed ones, and pydantic's
    ``ValidationError`` when the result is not a valid blueprint.
    """
    data = blueprint.model_dump(mode="json")
    for edit in edits:
        for path, value in edit.sets:
            if not any(_matches(path, shape) for shape in ALLOWED_SETS):
                raise EditPathError(f"{edit.label}: path {path} may not be set")
            _container(data, path[:-1])[path[-1]] = value
        for path, value in edit.appends:
            if path not in ALLOWED_APPENDS:
                raise EditPathError(f"{edit.label}: path {path} may not be appended to")
            _container(data, path).append(value)
    return Blueprint.model_validate(data)
