"""Dead-letter commands: list, show and redrive dead-lettered compensations.

A compensation that still fails after its retries is parked in ``dead_letters`` with
everything needed to run it again; the saga ends ``compensation_failed``. Once the
cause is fixed, a redrive runs the compensation again (new attempts, new idempotency
keys) and, when nothing else is parked, the saga ends ``compensated``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass

from sagacrew.runtime.operations._access import orchestrator_of
from sagacrew.runtime.operations._errors import (
    NotRedrivableError,
    OperationsError,
    UnknownDeadLetterError,
)
from sagacrew.runtime.saga import SagaResult, SagaState
from sagacrew.runtime.store import DeadLetter, StepLogEntry, Store
from sagacrew.runtime.system import SagaSystem

logger = logging.getLogger("sagacrew.runtime.operations")

STATUSES = ("parked", "redrive_requested", "redriven", "resolved")
"""A dead letter's status: ``parked`` (waiting for an operator), ``redrive_requested`` (an
operator asked, a worker is to run it again), ``redriven`` (run again successfully) or
``resolved`` (closed by hand)."""


def list_dead_letters(
    store: Store, *, status: str | None = "parked", kind: str | None = None
) -> list[DeadLetter]:
    """Dead letters, oldest first; ``status`` ``parked`` by default (``None``: every
    status), ``kind`` ``compensation`` or ``message`` (``None``, the default: both)."""
    if status is not None and status not in STATUSES:
        raise OperationsError(
            f"unknown dead-letter status {status!r}",
            fix=f"use one of {', '.join(STATUSES)} (or no status for all)",
        )
    letters = store.list_dead_letters(status=status)
    return [letter for letter in letters if kind is None or letter.kind == kind]


def show_dead_letter(store: Store, dead_letter_id: int) -> DeadLetter:
    """The dead letter with this id; :class:`UnknownDeadLetterError` when there is none."""
    letter = store.get_dead_letter(dead_letter_id)
    if letter is None:
        raise UnknownDeadLetterError(dead_letter_id)
    return letter


def compensation_attempts(store: Store, letter: DeadLetter) -> list[StepLogEntry]:
    """The step-log rows of the dead-lettered compensation's attempts, in order."""
    if letter.saga_id is None or letter.step_index is None:
        return []
    return [
        entry
        for entry in store.step_log(letter.saga_id)
        if entry.step_index == letter.step_index and entry.phase == "compensation"
    ]


def describe_dead_letter(letter: DeadLetter, attempts: list[StepLogEntry] | None = None) -> str:
    """The dead letter in full, as text: every column, the payload as indented JSON and,
    when given, the compensation attempts from the step log."""
    lines = [
        f"dead letter {letter.id}",
        f"  kind:           {letter.kind}",
        f"  status:         {letter.status}",
        f"  saga:           {letter.saga_id or '-'}",
        f"  step:           {letter.step_name or '-'} (index {letter.step_index})",
        f"  target:         {letter.target or '-'}",
        f"  attempts:       {letter.attempts}",
        f"  correlation_id: {letter.correlation_id}",
        f"  causation_id:   {letter.causation_id}",
        f"  created_at:     {letter.created_at:.3f}",
        f"  updated_at:     {letter.updated_at:.3f}",
        f"  error:          {letter.error}",
        "  payload:",
    ]
    payload = json.dumps(dict(letter.payload), indent=2, sort_keys=True, default=str)
    lines += [f"    {line}" for line in payload.splitlines()]
    if attempts:
        lines.append("  compensation attempts (step log):")
        for entry in attempts:
            error = f": {entry.error}" if entry.error else ""
            lines.append(f"    attempt {entry.attempt} {entry.status}{error}")
    return "\n".join(lines)


@dataclass(frozen=True)
class RedriveOutcome:
    """What a redrive did: the saga's result and the dead letter afterwards.

    ``succeeded`` is true when the dead letter left ``parked`` (the compensation ran).
    """

    dead_letter_id: int
    result: SagaResult
    letter: DeadLetter

    @property
    def succeeded(self) -> bool:
        return self.letter.status != "parked"

    def summary(self) -> str:
        """One line, e.g. "dead letter 3: redriven; saga s-1 is compensated"."""
        what = self.letter.status if self.succeeded else f"still parked ({self.letter.error})"
        return (
            f"dead letter {self.dead_letter_id}: {what}; saga {self.result.saga_id} is "
            f"{self.result.state.value}"
        )


def check_redrivable(store: Store, dead_letter_id: int) -> DeadLetter:
    """The dead letter, if it can be redriven; otherwise an :class:`OperationsError`
    saying why and what to do."""
    letter = show_dead_letter(store, dead_letter_id)
    if letter.kind != "compensation" or letter.saga_id is None:
        raise NotRedrivableError(
            dead_letter_id,
            f"it is a {letter.kind!r} dead letter, not a saga compensation",
            fix="only compensations are redriven; resend the message from its producer",
        )
    if letter.status != "parked":
        raise NotRedrivableError(
            dead_letter_id,
            f"its status is {letter.status!r}, not parked",
            fix="nothing is left to do for it; list the parked ones with "
            "`sagacrew dead-letters list DIR`",
        )
    return letter


async def redrive_dead_letter(
    system: SagaSystem, dead_letter_id: int, *, wait_timeout_s: float = 30.0
) -> RedriveOutcome:
    """Run a parked compensation again on the started ``system`` and return the outcome.

    When the letter's saga is still being driven (e.g. it was just recovered and is
    compensating other steps), waits up to ``wait_timeout_s`` (default 30 s) for it to
    end first. Raises :class:`UnknownDeadLetterError` / :class:`NotRedrivableError` for a
    letter that cannot be redriven, :class:`OperationsError` when its saga does not end
    in time. A compensation that fails again is not an error: the outcome says the
    letter is still parked.
    """
    orchestrator = orchestrator_of(system, "redrive")
    letter = check_redrivable(system.store, dead_letter_id)
    assert letter.saga_id is not None
    saga = system.store.get_saga(letter.saga_id)
    if saga is not None and not SagaState(saga.state).terminal:
        try:
            await asyncio.wait_for(orchestrator.wait(letter.saga_id), wait_timeout_s)
        except TimeoutError:
            raise OperationsError(
                f"saga {letter.saga_id} of dead letter {dead_letter_id} is still "
                f"{saga.state} after {wait_timeout_s} s",
                fix="let it finish (see its status), then redrive again; or raise the wait timeout",
            ) from None
        letter = check_redrivable(system.store, dead_letter_id)
    logger.info(
        "redriving dead letter %d (saga %s, step %s)",
        dead_letter_id,
        letter.saga_id,
        letter.step_name,
        extra={"saga_id": letter.saga_id, "correlation_id": letter.correlation_id},
    )
    result = await orchestrator.redrive(dead_letter_id)
    after = show_dead_letter(system.store, dead_letter_id)
    outcome = RedriveOutcome(dead_letter_id, result, after)
    log = logger.info if outcome.succeeded else logger.error
    log(outcome.summary(), extra={"saga_id": letter.saga_id})
    return outcome
