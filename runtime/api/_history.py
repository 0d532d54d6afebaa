"""What happened to one saga, for operators: each step's attempts, times, last error,
next retry and compensation; why the saga failed and at which step; its timeline.

Pure functions of the store's rows (the saga, its step log and dead letters) and the
saga type's definition, so the status endpoint, the page and the tests agree. Errors go
through :func:`~sagacrew.runtime.api._redact.short_error`: one short line, without the
saga's values, ids or secrets.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

from sagacrew.runtime.api._models import (
    CompensationName,
    StepStatusName,
    StepView,
    TimelineEntry,
)
from sagacrew.runtime.api._progress import StepOutline, iso_utc, step_statuses
from sagacrew.runtime.api._redact import saga_values, short_error
from sagacrew.runtime.saga import RetryPolicy, SagaDefinition
from sagacrew.runtime.store import DeadLetter, SagaExecution, StepLogEntry

TIMELINE_MAX = 500
"""The most transitions a timeline holds (the newest; a saga retrying for hours has more)."""

FAILED_STATES = ("compensating", "compensated", "compensation_failed", "stalled")
"""Saga states with a failure reason: its forward run failed."""
_VERBS = {"refused": "refused", "unknown": "timed out", "failed": "failed"}


@dataclass(frozen=True)
class SagaHistory:
    """The operator's view of one saga (see the module docstring)."""

    summary: str
    failed_step: str | None
    failure_reason: str | None
    steps: list[StepView]
    timeline: list[TimelineEntry]
    dead_letters: list[int]


def milliseconds(seconds: float) -> float:
    """``seconds`` as milliseconds, to a tenth."""
    return round(seconds * 1000, 1)


def undo_label(step_name: str) -> str:
    """How the page and timeline name a step's compensation: ``undo create_order``."""
    return f"undo {step_name}"


def saga_history(
    saga: SagaExecution,
    outline: Sequence[StepOutline],
    log: Sequence[StepLogEntry],
    letters: Sequence[DeadLetter],
    definition: SagaDefinition | None,
) -> SagaHistory:
    """Everything the status endpoint says about ``saga`` beyond its bare counts."""
    hidden = [*saga_values(saga.data), saga.correlation_id, saga.causation_id]
    parked = {
        letter.step_index: letter
        for letter in letters
        if letter.kind == "compensation" and letter.status == "parked"
        if letter.step_index is not None
    }
    current = None
    if saga.state in ("running", "waiting") and saga.step_index < len(outline):
        current = outline[saga.step_index].name
    statuses = step_statuses(
        outline, log, parked_steps=set(parked), saga_state=saga.state, current_step=current
    )
    failed_row = _failed_forward(log) if saga.state in FAILED_STATES else None
    reason = _reason(failed_row, hidden) if failed_row is not None else None
    if reason is None and saga.state in FAILED_STATES:
        reason = reason_of(saga.error, hidden)
    steps = [
        _step(index, step, status, saga, log, parked, definition, hidden)
        for index, (step, status) in enumerate(zip(outline, statuses, strict=True))
    ]
    return SagaHistory(
        summary=_summary(saga, failed_row, reason, parked, outline),
        failed_step=None if failed_row is None else failed_row.step_name,
        failure_reason=reason,
        steps=steps,
        timeline=_timeline(saga, log, letters, hidden),
        dead_letters=sorted(letter.id for letter in parked.values() if letter.id is not None),
    )


_SAGA_ERROR = re.compile(
    r"^step '(?P<step>[^']+)' failed \((?P<why>timed out, on_timeout: \w+|[^:]+): (?P<error>.*)\)$"
)
_WHY = (
    (re.compile(r"^business refusal$"), "refused"),
    (re.compile(r"^(?P<n>\d+) attempts exhausted$"), "failed after {n} attempts"),
    (re.compile(r"^timed out.*$"), "timed out"),
)


def reason_of(error: str | None, hidden: Sequence[str] = ()) -> str | None:
    """A saga's ``error`` column as a failure reason: ``step 'authorize_card' failed
    (business refusal: card declined)`` reads ``authorize_card refused: card declined``;
    any other error is shortened as it is (``None`` for none)."""
    match = _SAGA_ERROR.match(" ".join((error or "").split()))
    if match is None:
        return short_error(error, hidden)
    verb = f"failed ({match['why']})"
    for pattern, words in _WHY:
        found = pattern.match(match["why"])
        if found is not None:
            verb = words.format(**found.groupdict())
            break
    return short_error(f"{match['step']} {verb}: {match['error']}", hidden)


def list_summary(state: str, steps_completed: int, steps_total: int, reason: str | None) -> str:
    """A list row's summary: ``4 of 6 steps complete``, or for a saga that failed its
    state and reason, ``compensated (authorize_card refused: card declined)``."""
    if state in FAILED_STATES and reason:
        return f"{state.replace('_', ' ')} ({reason})"
    return f"{steps_completed} of {steps_total} steps complete"


def _failed_forward(log: Sequence[StepLogEntry]) -> StepLogEntry | None:
    """The last failed forward attempt: the one that turned the saga to failure."""
    failed = [row for row in log if row.phase == "forward" and row.status == "failed"]
    return failed[-1] if failed else None


def _reason(row: StepLogEntry, hidden: Sequence[str]) -> str:
    """``authorize_card refused: card declined`` from the failed attempt's row."""
    outcome = str((row.result or {}).get("outcome", "failed"))
    verb = _VERBS.get(outcome, "failed")
    if verb == "failed" and row.attempt > 1:
        verb = f"failed after {row.attempt} attempts"
    error = short_error(row.error, hidden)
    return f"{row.step_name} {verb}: {error}" if error else f"{row.step_name} {verb}"


def _summary(
    saga: SagaExecution,
    failed_row: StepLogEntry | None,
    reason: str | None,
    parked: dict[int, DeadLetter],
    outline: Sequence[StepOutline],
) -> str:
    """How the saga stands, in words; a failed saga says after which step and why."""
    done = f"{saga.steps_completed} of {saga.steps_total} steps complete"
    if saga.state not in FAILED_STATES:
        if saga.state == "waiting" and saga.step_index < len(outline):
            return f"{done}; {outline[saga.step_index].name} waits for its completion event"
        return done
    at = (failed_row.step_index if failed_row is not None else saga.step_index) + 1
    where = f"step {at} of {saga.steps_total}"
    why = f" ({reason})" if reason else ""
    if saga.state == "stalled":
        return f"stalled at {where}{why}; an operator must resolve it"
    if saga.state == "compensating":
        return f"compensating after {where}{why}"
    if saga.state == "compensated":
        return f"compensated after {where}{why}"
    undone = ", ".join(undo_label(letter.step_name or "?") for _, letter in sorted(parked.items()))
    tail = f"; {undone} parked as a dead letter" if undone else ""
    return f"compensation failed after {where}{why}{tail}"


def _step(
    index: int,
    step: StepOutline,
    status: StepStatusName,
    saga: SagaExecution,
    log: Sequence[StepLogEntry],
    parked: dict[int, DeadLetter],
    definition: SagaDefinition | None,
    hidden: Sequence[str],
) -> StepView:
    rows = [row for row in log if row.step_index == index]
    forward = [row for row in rows if row.phase == "forward"]
    undo = [row for row in rows if row.phase == "compensation"]
    started = min((row.started_at for row in forward), default=None)
    ended = forward[-1].ended_at if forward and status not in ("running", "waiting") else None
    failures = [row for row in rows if row.status == "failed"]
    compensatable = (
        definition.steps[index].compensation is not None
        if definition is not None and index < len(definition.steps)
        else any(row.compensatable for row in rows)
    )
    return StepView(
        name=step.name,
        label=step.name,
        status=status,
        pivot=step.pivot,
        attempts=max((row.attempt for row in forward), default=0),
        started_at=None if started is None else iso_utc(started),
        ended_at=None if ended is None else iso_utc(ended),
        duration_ms=None if started is None or ended is None else milliseconds(ended - started),
        last_error=short_error(failures[-1].error, hidden) if failures else None,
        next_retry_at=_next_retry(index, rows, saga, definition),
        compensation=_compensation(undo, index in parked, compensatable, saga.state),
        compensation_attempts=len({row.attempt for row in undo}),
    )


def _compensation(
    undo: Sequence[StepLogEntry], is_parked: bool, compensatable: bool, saga_state: str
) -> CompensationName:
    if is_parked:
        return "dead_lettered"
    if not undo:
        return "not_run" if compensatable else "none"
    last = undo[-1].status
    if last == "succeeded":
        return "ran"
    if last == "failed" and saga_state != "compensating":
        return "failed"
    return "running"


def _next_retry(
    index: int,
    rows: Sequence[StepLogEntry],
    saga: SagaExecution,
    definition: SagaDefinition | None,
) -> str | None:
    """When the step's next attempt is due: its last attempt failed and the saga still
    runs (forward) or compensates (its undo); the backoff without jitter."""
    last = rows[-1] if rows else None
    if last is None or last.status != "failed" or last.ended_at is None:
        return None
    if definition is None or index >= len(definition.steps):
        return None
    policy: RetryPolicy
    if last.phase == "forward" and saga.state == "running" and saga.step_index == index:
        policy = definition.steps[index].retry_policy
        attempt = last.attempt
    elif last.phase == "compensation" and saga.state == "compensating":
        policy = definition.compensation_retry
        attempt = sum(row.phase == "compensation" and row.status == "failed" for row in rows)
    else:
        return None
    delay_s = replace(policy, jitter=0.0).delay_s(attempt, random.Random(0))
    return iso_utc(last.ended_at + delay_s)


def _row_text(row: StepLogEntry, hidden: Sequence[str]) -> str:
    name = row.step_name if row.phase == "forward" else undo_label(row.step_name)
    attempt = f"attempt {row.attempt}"
    if row.status == "started":
        return f"{name}: {attempt} started"
    if row.status == "waiting":
        return f"{name} waits for its completion event"
    if row.status == "succeeded":
        took = "" if row.latency_ms is None else f" in {row.latency_ms:.0f} ms"
        return f"{name} succeeded{took}"
    outcome = str((row.result or {}).get("outcome", "failed"))
    verb = _VERBS.get(outcome, "failed") if row.phase == "forward" else "failed"
    error = short_error(row.error, hidden)
    return f"{name} {verb} ({attempt})" + (f": {error}" if error else "")


def _timeline(
    saga: SagaExecution,
    log: Sequence[StepLogEntry],
    letters: Sequence[DeadLetter],
    hidden: Sequence[str],
) -> list[TimelineEntry]:
    """The saga's transitions, oldest first (at most :data:`TIMELINE_MAX`, the newest)."""
    Phase = Literal["saga", "forward", "compensation", "operator"]
    entries: list[tuple[float, int, str | None, Phase, str, str]] = [
        (saga.started_at, 0, None, "saga", "started", f"{saga.saga_name} started")
    ]
    for order, row in enumerate(log, start=1):
        at = row.started_at if row.status in ("started", "waiting") else row.ended_at
        phase: Phase = "forward" if row.phase == "forward" else "compensation"
        entries.append(
            (at or row.started_at, order, row.step_name, phase, row.status, _row_text(row, hidden))
        )
    last = len(entries)
    for letter in letters:
        if letter.kind != "compensation":
            continue
        step = letter.step_name or "?"
        entries.append(
            (
                letter.created_at,
                last,
                step,
                "operator",
                "dead_lettered",
                f"{undo_label(step)} parked as dead letter #{letter.id} after its retries",
            )
        )
        if letter.status != "parked":
            entries.append(
                (
                    letter.updated_at,
                    last,
                    step,
                    "operator",
                    letter.status,
                    f"dead letter #{letter.id} {letter.status} by an operator",
                )
            )
    if saga.ended_at is not None:
        entries.append((saga.ended_at, last + 1, None, "saga", saga.state, f"saga {saga.state}"))
    entries.sort(key=lambda entry: (entry[0], entry[1]))
    return [
        TimelineEntry(at=iso_utc(at), step=step, phase=phase, status=status, text=text)
        for at, _, step, phase, status, text in entries[-TIMELINE_MAX:]
    ]
