"""Response bodies of the status API (pydantic, so they appear in ``/api/openapi.json``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

StepStatusName = Literal[
    "pending",
    "running",
    "succeeded",
    "failed",
    "compensating",
    "compensated",
    "waiting",
    "dead_lettered",
]


class _Body(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


_View = TypeVar("_View", bound="BaseModel | DataclassInstance")


def view_of(model: type[_View], record: object, **computed: Any) -> _View:
    """A ``model`` (a pydantic model or dataclass) of ``record``: each field is
    ``record``'s attribute of the same name, unless ``computed`` gives it (times as ISO
    text, figures derived from the record)."""
    return model(
        **{
            name: computed[name] if name in computed else getattr(record, name)
            for name in _field_names(model)
        }
    )


def _field_names(model: type[BaseModel] | type[DataclassInstance]) -> Iterable[str]:
    if issubclass(model, BaseModel):
        return model.model_fields
    return (field.name for field in dataclasses.fields(model))


CompensationName = Literal["none", "not_run", "running", "ran", "failed", "dead_lettered"]
"""Whether a step's compensation ran: ``none`` (the step has no compensation), ``not_run``
(it has one that never started, e.g. the step never succeeded or the saga completed),
``running`` (started, or failed and being retried), ``ran`` (succeeded), ``failed`` (its
last attempt failed and nothing retries it) or ``dead_lettered`` (parked for an operator)."""


class StepView(_Body):
    """One step of a saga: its name, live status and pivot flag, and how it went.

    Times are ISO 8601 in UTC (``null`` before the step started); ``duration_ms`` runs from
    the first attempt's start to the last attempt's end (``null`` while it runs);
    ``last_error`` is the last failed attempt's error (forward or compensation) as one
    short line without the saga's values, ids or secrets; ``next_retry_at`` is when the
    next attempt is due (the backoff without its jitter) while a retry waits."""

    name: str
    label: str
    """How the page names the step (``create_order``; its undo: ``undo create_order``)."""
    status: StepStatusName
    pivot: bool
    attempts: int
    started_at: str | None
    ended_at: str | None
    duration_ms: float | None
    last_error: str | None
    next_retry_at: str | None
    compensation: CompensationName
    compensation_attempts: int


class HeldLockView(_Body):
    """A semantic lock a saga holds: on an instance of which aggregate type, taken by
    which step (the instance's id is saga data: operators find it in ``GET /api/locks``)."""

    aggregate: str
    step_name: str


class TimelineEntry(_Body):
    """One transition of a saga, oldest first: when (ISO 8601, UTC), of which step
    (``null``: the saga itself), in which phase, to which status, in words."""

    at: str
    step: str | None
    phase: Literal["saga", "forward", "compensation", "operator"]
    status: str
    text: str


class SagaStatusView(_Body):
    """``GET /api/sagas/{saga_id}/status``: progress, why it failed and what happened.

    Never the saga's data or step results; errors are short lines with the saga's
    values, ids and secrets removed (see ``_redact``). ``summary`` says how the saga
    stands in words ("4 of 6 steps complete", "compensated after step 4 of 6
    (authorize_card refused: card declined)"); ``failure_reason`` and ``failed_step``
    are ``null`` unless the saga is failing or failed; ``locks`` lists the aggregate
    instances (stream ids) whose semantic lock the saga holds; ``dead_letters`` the ids
    of its parked compensations (redrive them with ``POST /api/dead-letters/{id}/redrive``).
    """

    saga_id: str
    saga_name: str
    state: str
    steps_completed: int
    steps_total: int
    summary: str
    current_step: str | None
    started_at: str
    ended_at: str | None
    duration_ms: float | None
    failure_reason: str | None
    failed_step: str | None
    locks: list[HeldLockView]
    dead_letters: list[int]
    steps: list[StepView]
    timeline: list[TimelineEntry]


class SagaListItem(_Body):
    """One row of ``GET /api/sagas``; times are ISO 8601 in UTC; ``duration_ms`` is
    ``null`` while the saga runs; ``failure_reason`` is the saga's error as one short line
    (``null`` when it has none)."""

    saga_id: str
    saga_name: str
    state: str
    summary: str
    started_at: str
    ended_at: str | None
    duration_ms: float | None
    failure_reason: str | None


class SagaList(_Body):
    """A page of sagas, newest first: ``offset`` is where it starts, ``next_offset`` where
    the next page starts (``null``: this is the last); ``counts`` is how many sagas of the
    store are in each state (whatever the filters)."""

    sagas: list[SagaListItem]
    offset: int
    next_offset: int | None
    counts: dict[str, int]


class SagaStarted(_Body):
    """``POST /api/sagas/{saga_name}`` (202): where to follow the new saga."""

    saga_id: str
    saga_name: str
    status_url: str
    page_url: str


class DeadLetterView(_Body):
    """A dead-lettered compensation, for operators (times ISO 8601 in UTC)."""

    id: int
    saga_id: str | None
    step_name: str | None
    step_index: int | None
    status: str
    attempts: int
    error: str
    created_at: str
    updated_at: str


class DeadLetterList(_Body):
    dead_letters: list[DeadLetterView]


class Redriven(_Body):
    """The saga's state after a redrive (``compensated`` when nothing remains parked)."""

    dead_letter_id: int
    saga_id: str
    state: str
    summary: str


class AdminState(_Body):
    """After pause/resume: whether new sagas are refused, and how many are in flight."""

    paused: bool
    in_flight: int


class Drained(_Body):
    """After drain: ``drained`` is true when no saga is in flight any more."""

    drained: bool
    in_flight: int
    paused: bool


class ErrorBody(_Body):
    """Every error response: ``error`` is one line saying what is wrong (and often the fix);
    ``detail`` is ``null`` or data that helps fix the request (e.g. the known saga names,
    or one ``{"loc", "msg"}`` entry per invalid parameter)."""

    error: str
    detail: Any


class Liveness(_Body):
    """``GET /livez``: the process serves requests (says nothing about the store)."""

    status: Literal["alive"]


class Health(_Body):
    """``GET /healthz`` and ``/readyz`` (200): the system runs and its store answered just now."""

    status: Literal["ok"]
    system: str
    store: Literal["available"]
    paused: bool
    in_flight: int


class SagaTypeView(_Body):
    """A saga type of the system: its name, description and steps (names, pivot)."""

    name: str
    description: str
    steps: list[str]
    pivot: str | None


class SystemView(_Body):
    """``GET /api/system``: the system's name, title and saga types (for the web page)."""

    system: str
    title: str
    sagas: list[SagaTypeView]
    states: list[str]


class LockView(_Body):
    """One semantic lock: the instance (stream) a saga holds in a pending state."""

    stream_id: str
    saga_id: str
    saga_name: str
    step_name: str
    """The step that acquired it."""


class LockList(_Body):
    locks: list[LockView]
