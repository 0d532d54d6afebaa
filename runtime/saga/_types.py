"""Saga states, results, status, alerts and metrics."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sagacrew.runtime._frozen import record
from sagacrew.runtime.store import AlertCore


class SagaState(StrEnum):
    """Where a saga is. Terminal: COMPLETED, COMPENSATED, COMPENSATION_FAILED, STALLED.

    STALLED: a retriable step after the pivot still failing when the deadline passed;
    the saga cannot go back, so an operator is alerted (no compensation). Also a step
    without a compensation (the pivot, typically) that failed with an unknown outcome
    (it timed out: it may have acted): compensating the earlier steps would drop what
    it did, so an operator is alerted instead.
    COMPENSATION_FAILED: a compensation exhausted its attempts and sits in the dead
    letter queue; ``redrive`` can finish the compensation.
    """

    RUNNING = "running"
    WAITING = "waiting"
    COMPENSATING = "compensating"
    COMPLETED = "completed"
    COMPENSATED = "compensated"
    COMPENSATION_FAILED = "compensation_failed"
    STALLED = "stalled"

    @property
    def terminal(self) -> bool:
        return self not in (SagaState.RUNNING, SagaState.WAITING, SagaState.COMPENSATING)


ACTIVE_STATES = (SagaState.RUNNING, SagaState.WAITING, SagaState.COMPENSATING)


@record
class SagaResult:
    """A saga's outcome: its state, how far it got, its data, and why it failed (if so)."""

    saga_id: str
    saga_name: str
    state: SagaState
    steps_completed: int
    steps_total: int
    data: dict[str, Any]
    error: str | None


@dataclass(frozen=True)
class SagaStatus:
    """A saga's progress for the status API: ``summary`` reads "2 of 5 steps complete";
    ``current_step`` is the step running, waiting or being compensated (``None`` when
    the saga is terminal)."""

    saga_id: str
    saga_name: str
    state: SagaState
    steps_completed: int
    steps_total: int
    summary: str
    current_step: str | None


@dataclass(frozen=True)
class Alert(AlertCore):
    """Raised to ``on_alert`` when an operator must act.

    ``kind`` is ``compensation_failed`` (a compensation was dead-lettered; redrive it
    with ``dead_letter_id``), ``stalled`` (a step after the pivot kept failing until
    the deadline) or ``unknown_outcome`` (a step without a compensation failed for good
    after timing out, so it may have acted; the saga is stalled, the earlier steps are
    not compensated; ``error`` names the saga, the step and the fix: give the operation
    an undo, or resolve by hand), or ``driver_failed`` (the code driving the saga kept
    raising, e.g. a defect or corrupt data; the saga is left as the store holds it and
    resumes on the next ``recover()``), ``saga_quarantined`` (the saga's rows cannot be
    read; it is not resumed until repaired) or ``stream_quarantined`` (an aggregate
    instance's event stream cannot be replayed: its commands are refused until
    ``sagacrew streams repair``; ``stream_id`` names it).
    """

    at: float
    dead_letter_id: int | None = None
    stream_id: str | None = None
    """The event stream concerned (a ``stream_quarantined`` alert), else ``None``."""


@dataclass
class SagaMetrics:
    """Counters kept by the orchestrator (exported to Prometheus elsewhere)."""

    started: int = 0
    completed: int = 0
    compensated: int = 0
    compensation_failed: int = 0
    stalled: int = 0
    retries: int = 0
    dead_lettered: int = 0
