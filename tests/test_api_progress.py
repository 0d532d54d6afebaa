"""How the status API derives each step's status from the step log (pure functions)."""

from __future__ import annotations

from collections.abc import Collection

import pytest
from saga_fakes import step_entry

from sagacrew.runtime.api import StepOutline
from sagacrew.runtime.api import step_statuses
from sagacrew.runtime.api import summary_text
from sagacrew.runtime.store import StepLogEntry

STEPS = [StepOutline("reserve", False), StepOutline("charge", True), StepOutline("ship", False)]


def row(index: int, phase: str, status: str, attempt: int = 1) -> StepLogEntry:
    return step_entry("s-1", index, STEPS[index].name, phase, status, attempt)


def statuses(
    log: list[StepLogEntry], state: str, current: str | None, parked: Collection[int] = ()
) -> list[str]:
    return list(
        step_statuses(STEPS, log, parked_steps=parked, saga_state=state, current_step=current)
    )


STARTED = [
    row(0, "forward", "started"),
    row(0, "forward", "succeeded"),
    row(1, "forward", "started"),
]
RETRYING = [row(0, "forward", "succeeded"), row(1, "forward", "failed")]
FAILED_FOR_GOOD = [*RETRYING, row(0, "compensation", "started")]
PARKED = [row(0, "forward", "succeeded"), row(0, "compensation", "failed", attempt=3)]
WAITING = [row(0, "forward", "succeeded"), row(1, "forward", "waiting")]


@pytest.mark.parametrize(
    ("log", "state", "current", "parked", "expected"),
    [
        (STARTED, "running", "charge", (), ["succeeded", "running", "pending"]),
        (RETRYING, "running", "charge", (), ["succeeded", "running", "pending"]),
        (FAILED_FOR_GOOD, "compensating", "reserve", (), ["compensating", "failed", "pending"]),
        (PARKED, "compensation_failed", None, {0}, ["dead_lettered", "pending", "pending"]),
        (WAITING, "waiting", "charge", (), ["succeeded", "waiting", "pending"]),
    ],
    ids=[
        "steps_without_rows_are_pending_and_a_started_step_is_running",
        "a_failed_attempt_of_the_current_step_of_a_running_saga_is_still_running",
        "a_step_that_failed_for_good_is_failed_while_the_saga_compensates",
        "a_parked_compensation_is_dead_lettered",
        "a_step_waiting_for_its_completion_event_is_waiting",
    ],
)
def test_step_statuses_follow_the_log(
    log: list[StepLogEntry],
    state: str,
    current: str | None,
    parked: Collection[int],
    expected: list[str],
) -> None:
    assert statuses(log, state, current, parked) == expected


def test_a_failed_compensation_being_retried_is_compensating_and_then_compensated() -> None:
    log = [row(0, "forward", "succeeded"), row(0, "compensation", "failed")]
    assert statuses(log, "compensating", "reserve")[0] == "compensating"
    log.append(row(0, "compensation", "succeeded", attempt=2))
    assert statuses(log, "compensated", None)[0] == "compensated"


def test_summary_reads_n_of_m_steps_complete() -> None:
    assert summary_text(2, 5) == "2 of 5 steps complete"
