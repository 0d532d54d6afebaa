"""Typed rows of the store's tables (see ``schema.sql``); JSON columns are dicts here.

Every record is a frozen dataclass built by :func:`~sagacrew.runtime._frozen.fast_init`
(several are made at every saga transition)."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import field
from typing import Any

from sagacrew.runtime._frozen import record
from sagacrew.runtime.messages import new_id


@record
class NewEvent:
    """An event to append. ``message_id`` defaults to a fresh id; ``event_version`` is the
    payload's schema version (default 1); ``metadata`` defaults to ``{}``."""

    event_type: str
    payload: Mapping[str, Any]
    correlation_id: str
    causation_id: str
    message_id: str = field(default_factory=new_id)
    event_version: int = 1
    metadata: Mapping[str, Any] = field(default_factory=dict)


@record
class RecordedEvent:
    """An event as stored: ``position`` is the global order, ``version`` the order within
    its stream (1, 2, 3 ... with no gaps); ``recorded_at`` is seconds since the epoch."""

    position: int
    stream_id: str
    version: int
    event_type: str
    event_version: int
    payload: dict[str, Any]
    metadata: dict[str, Any]
    message_id: str
    correlation_id: str
    causation_id: str
    recorded_at: float


@record
class Snapshot:
    """The state of a stream as of ``version`` (the state includes events 1..version)."""

    stream_id: str
    version: int
    state: dict[str, Any]
    taken_at: float


class Unset(enum.Enum):
    """Marker for "leave this column unchanged" in updates where ``None`` is a value."""

    UNSET = 0


UNSET = Unset.UNSET


@record
class SagaExecution:
    """A ``saga_executions`` row. ``state`` is one of running, waiting, compensating,
    completed, compensated, compensation_failed, stalled; ``step_index`` is the next
    forward step, or the step being compensated; times are seconds since the epoch.

    ``data`` is the saga's input merged with the results of its succeeded forward steps,
    in step order. Each result is written once, in its step-log row: the row's ``data``
    column is written when the saga starts and at each change of its state, and the
    store merges an unsettled saga's step results into what it reads."""

    saga_id: str
    saga_name: str
    state: str
    step_index: int
    steps_total: int
    steps_completed: int
    pivot_index: int | None
    data: dict[str, Any]
    correlation_id: str
    causation_id: str
    started_at: float
    updated_at: float
    deadline_at: float
    ended_at: float | None = None
    error: str | None = None
    definition_version: str = ""
    """The version of the saga's definition it started on (``""``: none, or started before
    versions were recorded): recovery, redrive and compensation follow that plan."""


@record
class SagaUpdate:
    """Columns of one ``saga_executions`` row to change; ``UNSET`` leaves a column as is.

    ``updated_at`` is always written.
    """

    saga_id: str
    updated_at: float
    state: str | Unset = UNSET
    step_index: int | Unset = UNSET
    steps_completed: int | Unset = UNSET
    data: Mapping[str, Any] | Unset = UNSET
    ended_at: float | Unset | None = UNSET
    error: str | Unset | None = UNSET


@record
class SagaSummary:
    """A saga as lists show it, without its data: id, type, state, progress, start time."""

    saga_id: str
    saga_name: str
    state: str
    steps_completed: int
    steps_total: int
    started_at: float


@record
class StepLogEntry:
    """A ``saga_step_log`` row: one transition of one step attempt.

    ``phase`` is forward or compensation; ``status`` started, succeeded, failed or
    waiting. ``seq`` is assigned by the store (``None`` before insertion) and orders
    the transitions. ``result`` is set on success (and on waiting: the action's result);
    a failed forward attempt records ``{"outcome": "refused" | "failed" | "unknown"}``
    (unknown: it timed out, so it may have acted).
    """

    saga_id: str
    step_index: int
    step_name: str
    phase: str
    status: str
    attempt: int
    compensatable: bool
    idempotency_key: str
    started_at: float
    correlation_id: str
    causation_id: str
    ended_at: float | None = None
    latency_ms: float | None = None
    error: str | None = None
    result: Mapping[str, Any] | None = None
    seq: int | None = None


@record
class DeadLetter:
    """A ``dead_letters`` row. ``kind`` is compensation or message; ``status`` parked,
    redriven or resolved; ``payload`` holds everything needed to redrive; ``attempts``
    counts the attempts made so far. ``id`` is assigned by the store."""

    kind: str
    payload: Mapping[str, Any]
    error: str
    attempts: int
    status: str
    correlation_id: str
    causation_id: str
    created_at: float
    updated_at: float
    saga_id: str | None = None
    step_index: int | None = None
    step_name: str | None = None
    target: str | None = None
    id: int | None = None


@record
class DeadLetterUpdate:
    """Change the status (and optionally error and attempts) of one dead letter."""

    id: int
    status: str
    updated_at: float
    error: str | Unset = UNSET
    attempts: int | Unset = UNSET


@record
class AlertCore:
    """What every alert says, stored (:class:`AlertRecord`) or raised
    (``sagacrew.runtime.saga.Alert``): its ``kind``, the saga and step concerned (``""``
    when none), the ``error`` (what happened and the fix) and the ``correlation_id``."""

    kind: str
    saga_id: str
    saga_name: str
    step_name: str
    error: str
    correlation_id: str


@record
class AlertRecord(AlertCore):
    """An ``alerts`` row: an alert for an operator (see ``sagacrew.runtime.saga.Alert``).

    ``saga_id``, ``saga_name``, ``step_name`` and ``correlation_id`` are ``""`` when the
    alert concerns no saga or step; ``stream_id`` names the stream concerned (e.g. a
    quarantined stream), ``dead_letter_id`` the parked compensation to redrive.
    ``delivered_at`` stays ``None`` until every configured sink took the alert;
    ``delivery_attempts`` counts delivery rounds and ``last_delivery_error`` says why the
    last failed one failed. ``id`` is assigned by the store. Times are seconds since the
    epoch. The same alert recorded twice (same kind, correlation, saga, step, stream and
    ``raised_at``) is one row.
    """

    raised_at: float
    dead_letter_id: int | None = None
    stream_id: str | None = None
    delivered_at: float | None = None
    delivery_attempts: int = 0
    last_delivery_error: str | None = None
    id: int | None = None


@record
class MessageLogEntry:
    """One ``actor_message_log`` row: a message an actor handled, with its ids and outcome."""

    message_id: str
    actor: str
    message_name: str
    correlation_id: str | None
    causation_id: str | None
    received_at: float
    handled_ms: float
    outcome: str
    """``ok``, ``rejected`` or ``error``."""
    error: str | None = None


@record
class AppendRequest:
    """One :meth:`Store.append` call as data, for :meth:`Store.append_many` (group commit)."""

    stream_id: str
    expected_version: int
    events: Sequence[NewEvent]
    idempotency_key: str | None = None
    result: Mapping[str, Any] | None = None


@record
class InboxEvent:
    """A completion event waiting in ``saga_inbox`` for the worker that drives its saga."""

    id: int
    correlation_id: str
    event_name: str
    payload: Mapping[str, Any]


@record
class Fence:
    """The lease a worker writes a saga's transitions under: its id and the lease's
    generation (the fencing token). A write whose fence is not the saga's lease any more
    (another worker claimed it) is refused with :class:`LeaseLost`."""

    owner: str
    generation: int


@record
class SagaTransition:
    """Everything one saga transition writes, applied in ONE transaction.

    Any part may be ``None``. ``create`` inserts a saga, ``update`` changes it (exactly one
    row must match), ``step`` appends to the step log (and ``next_step`` after it: the
    next step's ``started`` row, folded into the commit of this one's success),
    ``dead_letter`` parks a failed compensation, ``dead_letter_update`` changes a dead
    letter's status, ``alert`` records the alert the transition raises (its
    ``dead_letter_id``, when ``None``, becomes the id of the dead letter this transition
    parks). With a ``fence``, the transition is written only while the saga's lease is
    that fence (see :class:`~sagacrew.runtime.store.LeaseRecorder`).
    """

    create: SagaExecution | None = None
    update: SagaUpdate | None = None
    step: StepLogEntry | None = None
    next_step: StepLogEntry | None = None
    dead_letter: DeadLetter | None = None
    dead_letter_update: DeadLetterUpdate | None = None
    alert: AlertRecord | None = None
    fence: Fence | None = None

    @property
    def saga_id(self) -> str | None:
        """The saga this transition writes (``None`` for a bare dead-letter update)."""
        for part in (self.create, self.update, self.step, self.dead_letter):
            if part is not None:
                return part.saga_id
        return None


@record
class StoredRun:
    """What a saga's run is rebuilt from: the saga (up to date, as ``get_saga`` reads it),
    its step log in transition order and its dead letters, oldest first."""

    saga: SagaExecution
    steps: list[StepLogEntry]
    dead_letters: list[DeadLetter]


@record
class TransitionIds:
    """Ids assigned by a transition: the dead letter ``id`` and the alert ``id``."""

    dead_letter_id: int | None = None
    alert_id: int | None = None


@record
class ExternalCall:
    """An ``external_calls`` row: work done on an external system, keyed by idempotency key.

    ``status`` is done, running, undone, cancelled or completed.
    """

    idempotency_key: str
    system: str
    operation: str
    resource_id: str
    status: str
    request: Mapping[str, Any]
    response: Mapping[str, Any]
    correlation_id: str
    causation_id: str
    created_at: float
    updated_at: float


@record
class WorkerCounts:
    """A worker's counters since it started: sagas claimed, leases found taken by another
    worker at a heartbeat, transitions refused by the fencing token, sagas driven now."""

    claimed: int = 0
    leases_lost: int = 0
    writes_refused: int = 0
    driving: int = 0


@record
class WorkerRecord:
    """What a worker last reported (``saga_workers``): its lease length, when it started
    and was last seen (wall clock), when it stopped gracefully (``None``: running, or
    dead), and its counters."""

    worker_id: str
    lease_s: float
    started_at: float
    seen_at: float
    stopped_at: float | None
    counts: WorkerCounts
    actors_epoch: int = 0
    """How many cluster-wide actor restarts (a rollback's restore) this worker has done."""

    def live(self, now: float) -> bool:
        """Running and heard from within its lease."""
        return self.stopped_at is None and now - self.seen_at <= self.lease_s

    def driving(self, now: float) -> int:
        """The sagas it drives now: its last report's, while it is live; else none."""
        return self.counts.driving if self.live(now) else 0
