"""Response bodies of the status API (pydantic, so they appear in ``/api/openapi.json``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

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


class StepView(_Body):
    """One step of a saga as the customer sees it: its name, live status and pivot flag."""

    name: str
    status: StepStatusName
    pivot: bool


class SagaStatusView(_Body):
    """``GET /api/sagas/{saga_id}/status``: progress only; never the saga's data or errors."""

    saga_id: str
    saga_name: str
    state: str
    steps_completed: int
    steps_total: int
    summary: str
    current_step: str | None
    steps: list[StepView]


class SagaListItem(_Body):
    """One row of ``GET /api/sagas``; ``started_at`` is ISO 8601 in UTC."""

    saga_id: str
    saga_name: str
    state: str
    summary: str
    started_at: str


class SagaList(_Body):
    sagas: list[SagaListItem]


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
