"""Dead-letter helpers: list, show (in full) and redrive a dead-lettered compensation."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from order_example import APP
from order_example import order_input
from saga_fakes import parked_letter

from sagacrew.runtime import SagaState
from sagacrew.runtime import SagaSystem
from sagacrew.runtime import ScriptedFault
from sagacrew.runtime import ScriptedFaults
from sagacrew.runtime.operations import NotRedrivableError
from sagacrew.runtime.operations import OperationsError
from sagacrew.runtime.operations import RedriveOutcome
from sagacrew.runtime.operations import SystemNotStartedError
from sagacrew.runtime.operations import UnknownDeadLetterError
from sagacrew.runtime.operations import compensation_attempts
from sagacrew.runtime.operations import describe_dead_letter
from sagacrew.runtime.operations import list_dead_letters
from sagacrew.runtime.operations import redrive_dead_letter
from sagacrew.runtime.operations import show_dead_letter


def faults() -> ScriptedFaults:
    """The pivot refuses, then the ticket's compensation fails its 3 attempts."""
    return ScriptedFaults(
        [
            ScriptedFault("create_order", "authorize_card", retriable=False),
            ScriptedFault(
                "create_order", "create_ticket", phase="compensation", retriable=True, times=3
            ),
        ]
    )


def parked_system(tmp_path: Path) -> tuple[SagaSystem, str]:
    """A stopped system whose store holds one parked compensation; returns the saga id."""
    system = APP.build_system(f"sqlite://{tmp_path / 'store.db'}", faults=faults())

    async def run() -> str:
        async with system:
            result = await system.run_saga("create_order", order_input(1))
            assert result.state is SagaState.COMPENSATION_FAILED
            saga_id: str = result.saga_id
            return saga_id

    return system, asyncio.run(run())


def test_list_shows_parked_letters_by_default_and_every_status_on_request(
    tmp_path: Path,
) -> None:
    system, saga_id = parked_system(tmp_path)
    (letter,) = list_dead_letters(system.store)
    assert (letter.saga_id, letter.step_name, letter.attempts) == (saga_id, "create_ticket", 3)
    assert list_dead_letters(system.store, status="redriven") == []
    assert list_dead_letters(system.store, status=None) == [letter]
    assert list_dead_letters(system.store, status=None, kind="message") == []
    with pytest.raises(OperationsError, match="parked, redrive_requested, redriven, resolved"):
        list_dead_letters(system.store, status="lost")


def test_show_gives_the_full_payload_error_and_every_attempt(tmp_path: Path) -> None:
    system, saga_id = parked_system(tmp_path)
    (listed,) = list_dead_letters(system.store)
    assert listed.id is not None
    letter = show_dead_letter(system.store, listed.id)
    attempts = compensation_attempts(system.store, letter)
    assert [(a.attempt, a.status) for a in attempts] == [
        (1, "started"),
        (1, "failed"),
        (2, "started"),
        (2, "failed"),
        (3, "started"),
        (3, "failed"),
    ]
    text = describe_dead_letter(letter, attempts)
    for expected in (
        f"saga:           {saga_id}",
        "attempts:       3",
        '"step_result"',
        '"ticket_id"',
        "injected transient failure of compensation create_ticket",
        "attempt 3 failed",
    ):
        assert expected in text


def test_show_of_an_unknown_id_says_how_to_find_the_right_one(tmp_path: Path) -> None:
    system, _ = parked_system(tmp_path)
    with pytest.raises(UnknownDeadLetterError) as raised:
        show_dead_letter(system.store, 42)
    assert "no dead letter with id 42" in str(raised.value)
    assert "sagacrew dead-letters list" in raised.value.fix


def test_redrive_runs_the_compensation_again_and_the_saga_ends_compensated(
    tmp_path: Path,
) -> None:
    system, saga_id = parked_system(tmp_path)
    (letter,) = list_dead_letters(system.store)
    assert letter.id is not None
    dead_letter_id = letter.id

    async def redrive() -> RedriveOutcome:
        recovered = await system.start()  # the fault script is spent: the cause is "fixed"
        assert recovered == []
        try:
            return await redrive_dead_letter(system, dead_letter_id)
        finally:
            await system.stop()

    outcome = asyncio.run(redrive())
    assert outcome.succeeded and outcome.letter.status == "redriven"
    assert outcome.result.state is SagaState.COMPENSATED
    assert "redriven" in outcome.summary() and saga_id in outcome.summary()
    with pytest.raises(NotRedrivableError, match="'redriven', not parked"):
        asyncio.run(_start_and_redrive(system, dead_letter_id))


async def _start_and_redrive(system: SagaSystem, dead_letter_id: int) -> RedriveOutcome:
    await system.start()
    try:
        return await redrive_dead_letter(system, dead_letter_id)
    finally:
        await system.stop()


def test_a_message_dead_letter_is_not_redriven_as_a_compensation(tmp_path: Path) -> None:
    system, _ = parked_system(tmp_path)
    letter = parked_letter("message", 1.0, target="nobody", payload={"name": "ping"})
    message_id = system.store.add_dead_letter(letter)
    with pytest.raises(NotRedrivableError, match="'message' dead letter"):
        asyncio.run(_start_and_redrive(system, message_id))


def test_redrive_needs_a_started_system(tmp_path: Path) -> None:
    system, _ = parked_system(tmp_path)
    with pytest.raises(SystemNotStartedError):
        asyncio.run(redrive_dead_letter(system, 1))
