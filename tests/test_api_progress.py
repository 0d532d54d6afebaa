"""How the status API derives each step's status from the step log (pure functions)."""

from __future__ import annotations

from collections.abc import Collection

from sagacrew.runtime.api import StepOutline, step_statuses, summary_text
from sagacrew.runtime.store import StepLogEntry

STEPS = [StepOutline("reserve", False), StepOutline("charge", True), StepOutline("ship", False)]


def row(index: int, phase: str, status: str, attempt: int = 1) -> StepLogEntry:
    return StepLogEntry(
        saga_id="s-1",
        step_index=index,
        step_name=STEPS[index].name,
        phase=phase,
        status=status,
        attempt=attempt,
        compensatable=True,
        idempotency_key=f"s-1:{index}:{phase}:{attempt}",
        started_at=0.0,
        correlation_id="c",
        causation_id="c",
    )


def statuses(
    log: list[StepLogEntry], state: str, current: str | None, parked: Collection[int] = ()
) -> list[str]:
    return list(
        step_statuses(STEPS, log, parked_steps=parked, saga_state=state, current_step=current)
    )


def test_steps_without_rows_are_pending_and_a_started_step_is_running() -> None:
    log = [
        row(0, "forward", "started"),
        row(0, "forward", "succeeded"),
        row(1, "forward", "started"),
    ]
    assert statuses(log, "running", "charge") == ["succeeded", "running", "pending"]


def test_a_failed_attempt_of_the_current_step_of_a_running_saga_is_still_running() -> None:
    log = [row(0, "forward", "succeeded"), row(1, "forward", "failed")]
    assert statuses(log, "running", "charge")[1] == "running"


def test_a_step_that_failed_for_good_is_failed_while_the_saga_compensates() -> None:
    log = [
        row(0, "forward", "succeeded"),
        row(1, "forward", "failed"),
        row(0, "compensation", "started"),
    ]
    assert statuses(log, "compensating", "reserve") == ["compensating", "failed", "pending"]


def test_a_failed_compensation_being_retried_is_compensating_and_then_compensated() -> None:
    log = [row(0, "forward", "succeeded"), row(0, "compensation", "failed")]
    assert statuses(log, "compensating", "reserve")[0] == "compensating"
    log.append(row(0, "compensation", "succeeded", attempt=2))
    assert statuses(log, "compensated", None)[0] == "compensated"


def test_a_parked_compensation_is_dead_lettered() -> None:
    log = [row(0, "forward", "succeeded"), row(0, "compensation", "failed", attempt=3)]
    assert statuses(log, "compensation_failed", None, parked={0})[0] == "dead_lettered"


def test_a_step_waiting_for_its_completion_event_is_waiting() -> None:
    log = [row(0, "forward", "succeeded"), row(1, "forward", "waiting")]
    assert statuses(log, "waiting", "charge")[1] == "waiting"


def test_summary_reads_n_of_m_steps_complete() -> None:
    assert summary_text(2, 5) == "2 of 5 steps complete"
