"""No orphan in the process: a saga whose driver raised is restarted from the store after a
backoff, so ``wait()`` ends; a saga whose driver keeps failing on a defect is given up with
a ``driver_failed`` alert, and ``wait()`` raises instead of hanging."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

import pytest
from async_helpers import run
from saga_fakes import FakeClock
from saga_fakes import FakeService
from saga_fakes import do
from saga_fakes import undo

from sagacrew.runtime.saga import Alert
from sagacrew.runtime.saga import RetryPolicy
from sagacrew.runtime.saga import SagaDefinition
from sagacrew.runtime.saga import SagaError
from sagacrew.runtime.saga import SagaOrchestrator
from sagacrew.runtime.saga import SagaState
from sagacrew.runtime.saga import SagaStep
from sagacrew.runtime.store import SagaTransition
from sagacrew.runtime.store import SqliteStore
from sagacrew.runtime.store import TransitionIds

ONCE = RetryPolicy(max_attempts=1, jitter=0.0)


class FailingStore(SqliteStore):
    """Fails the saga transitions that record step ``step`` succeeding, ``times`` times,
    with ``error`` (then writes them)."""

    def __init__(self, path: str, step: str, times: int, error: Exception) -> None:
        super().__init__(path)
        self.step, self.left, self.error = step, times, error

    def _maybe_fail(self, transitions: Sequence[SagaTransition]) -> None:
        for transition in transitions:
            entry = transition.step
            ours = entry and entry.step_name == self.step and entry.status == "succeeded"
            if ours and self.left > 0:
                self.left -= 1
                raise self.error

    def apply_saga_transition(self, transition: SagaTransition) -> TransitionIds:
        self._maybe_fail([transition])
        return super().apply_saga_transition(transition)

    def apply_saga_transitions(self, transitions: Sequence[SagaTransition]) -> list[TransitionIds]:
        self._maybe_fail(transitions)
        return super().apply_saga_transitions(transitions)


def definition() -> SagaDefinition:
    return SagaDefinition(
        name="order",
        steps=[
            SagaStep(name=name, action=do(name), compensation=undo(name), retry=ONCE)
            for name in ("a", "b", "c")
        ],
        deadline_s=30.0,
        compensation_retry=ONCE,
    )


@dataclass
class Driven:
    """A SQLite store in ``tmp_path`` whose transitions of step ``b`` fail ``times`` times
    with ``error``, the fake service and the alerts raised."""

    tmp_path: Path
    times: int
    error: Exception
    service: FakeService = field(default_factory=FakeService)
    alerts: list[Alert] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.store = FailingStore(str(self.tmp_path / "s.db"), "b", self.times, self.error)

    def orchestrator(self) -> SagaOrchestrator:
        clock = FakeClock()
        return SagaOrchestrator(
            self.store,
            [definition()],
            dispatch=self.service.dispatch,
            clock=clock,
            sleep=clock.sleep,
            on_alert=self.alerts.append,
        )


def test_a_saga_whose_driver_failed_is_restarted_and_wait_ends(tmp_path: Path) -> None:
    driven = Driven(tmp_path, times=2, error=RuntimeError("hiccup"))

    async def body() -> Any:
        saga = driven.orchestrator()
        try:
            return await saga.run("order", {"order_id": "o-1"}, saga_id="s-1")
        finally:
            await saga.close()

    result = run(body)
    assert result.state == SagaState.COMPLETED
    assert driven.store.left == 0  # both failures happened, then the restart finished the saga
    assert driven.service.done() == ["a", "b", "c"]  # b was redone from its key: applied once
    assert driven.alerts == []


def test_a_saga_whose_driver_keeps_failing_is_given_up_with_an_alert(tmp_path: Path) -> None:
    driven = Driven(tmp_path, times=100, error=RuntimeError("bug"))

    async def body() -> str:
        saga = driven.orchestrator()
        try:
            with pytest.raises(SagaError) as stopped:
                await saga.run("order", {"order_id": "o-1"}, saga_id="s-1")
            with pytest.raises(SagaError):  # a later wait ends too
                await saga.wait("s-1")
            await asyncio.sleep(0.05)  # let the durable alert be delivered
            return str(stopped.value)
        finally:
            await saga.close()

    message = run(body)
    assert "driver failed 4 times" in message and "RuntimeError: bug" in message
    assert [(a.kind, a.saga_id, a.step_name) for a in driven.alerts] == [
        ("driver_failed", "s-1", "b")
    ]
    saga = driven.store.get_saga("s-1")
    assert saga is not None and saga.state == SagaState.RUNNING  # left for recover()
