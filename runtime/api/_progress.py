"""A saga's steps and their live statuses, derived from its step log and dead letters.

Pure functions of store rows, so the status endpoint and the tests agree on the rules:

- ``dead_lettered``: the step's compensation is parked in the dead-letter queue;
- ``compensated`` / ``compensating``: the step's last compensation row succeeded / is
  started or failed (being retried);
- ``succeeded`` / ``waiting`` / ``running``: the step's last forward row succeeded / waits
  for its completion event / is started; a failed attempt of the saga's current step
  while the saga is running counts as ``running`` (a retry is due);
- ``failed``: the step's last forward attempt failed for good;
- ``pending``: the step has no row yet.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sagacrew.runtime.api._models import StepStatusName
from sagacrew.runtime.store import StepLogEntry


@dataclass(frozen=True)
class StepOutline:
    """A step of a saga type: its name and whether it is the pivot."""

    name: str
    pivot: bool


def summary_text(steps_completed: int, steps_total: int) -> str:
    """``"2 of 5 steps complete"`` (the orchestrator's wording)."""
    return f"{steps_completed} of {steps_total} steps complete"


def iso_utc(seconds: float) -> str:
    """Seconds since the epoch as ISO 8601 in UTC, millisecond precision, ``Z`` suffix."""
    stamp = datetime.fromtimestamp(seconds, tz=UTC).isoformat(timespec="milliseconds")
    return stamp.replace("+00:00", "Z")


def step_statuses(
    steps: Sequence[StepOutline],
    log: Iterable[StepLogEntry],
    *,
    parked_steps: Collection[int],
    saga_state: str,
    current_step: str | None,
) -> list[StepStatusName]:
    """The status of each of ``steps`` (by position), from the saga's step log.

    ``parked_steps``: indexes of steps whose compensation is parked as a dead letter;
    ``saga_state``: the saga's state; ``current_step``: the step the saga is on (``None``
    when terminal).
    """
    forward: dict[int, str] = {}
    compensation: dict[int, str] = {}
    for row in log:
        target = forward if row.phase == "forward" else compensation
        target[row.step_index] = row.status
    statuses: list[StepStatusName] = []
    for index, step in enumerate(steps):
        statuses.append(
            _one(
                forward.get(index),
                compensation.get(index),
                parked=index in parked_steps,
                retrying=saga_state == "running" and step.name == current_step,
            )
        )
    return statuses


def _one(
    forward: str | None, compensation: str | None, *, parked: bool, retrying: bool
) -> StepStatusName:
    if parked:
        return "dead_lettered"
    if compensation == "succeeded":
        return "compensated"
    if compensation is not None:
        return "compensating"
    if forward == "succeeded":
        return "succeeded"
    if forward == "waiting":
        return "waiting"
    if forward == "started":
        return "running"
    if forward == "failed":
        return "running" if retrying else "failed"
    return "pending"


def outline_from_blueprint(blueprint: Mapping[str, Any]) -> dict[str, list[StepOutline]]:
    """Each saga type's steps, read from a ``blueprint.json`` mapping.

    Accepts the blueprint's ``{"sagas": {"sagas": [...]}}`` shape and a plain list under
    ``"sagas"``; anything else gives ``{}`` (the orchestrator's definitions are used first).
    """
    return {
        str(saga["name"]): [
            StepOutline(str(step["name"]), bool(step.get("pivot", False)))
            for step in saga.get("steps", [])
        ]
        for saga in blueprint_sagas(blueprint)
    }


def blueprint_sagas(blueprint: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The saga entries of a blueprint mapping (see :func:`outline_from_blueprint`)."""
    sagas: Any = blueprint.get("sagas", [])
    if isinstance(sagas, Mapping):
        sagas = sagas.get("sagas", [])
    if not isinstance(sagas, list):
        return []
    return [saga for saga in sagas if isinstance(saga, Mapping) and "name" in saga]
