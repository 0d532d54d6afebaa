"""The lean per-step path (issue 21): attempts' timeouts sharing one timer per millisecond,
a step's result encoded once, the saga row's state left out of an update that keeps it,
a batch's statements counted one by one (pipelined on PostgreSQL)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

import pytest
from async_helpers import async_test
from saga_fakes import saga_row

from sagacrew.runtime.saga import SagaDefinition
from sagacrew.runtime.saga import SagaOrchestrator
from sagacrew.runtime.saga import SagaStep
from sagacrew.runtime.saga import StepContext
from sagacrew.runtime.saga._timeouts import AttemptTimeouts
from sagacrew.runtime.store import EncodedObject
from sagacrew.runtime.store import SagaTransition
from sagacrew.runtime.store import SagaUpdate
from sagacrew.runtime.store import Store
from sagacrew.runtime.store import TransitionIds
from sagacrew.runtime.store import encoded
from sagacrew.runtime.store._sql_base import SqlBase


@async_test
async def test_an_attempt_past_its_timeout_raises_timeout_error() -> None:
    timeouts = AttemptTimeouts()
    with pytest.raises(TimeoutError):
        async with timeouts.after(0.01):
            await asyncio.sleep(5)


@async_test
async def test_attempts_due_in_the_same_millisecond_share_one_timer() -> None:
    loop = asyncio.get_running_loop()
    timeouts = AttemptTimeouts()
    armed: list[float] = []
    call_at = loop.call_at

    def counting_call_at(when: float, callback: Any, *args: Any) -> asyncio.TimerHandle:
        armed.append(when)
        return call_at(when, callback, *args)

    loop.call_at = counting_call_at  # type: ignore[method-assign]
    try:
        for _ in range(50):  # each finishes at once, as a no-op step does
            async with timeouts.after(60.0):
                pass
    finally:
        loop.call_at = call_at  # type: ignore[method-assign]
    assert 1 <= len(armed) <= 5, "one timer per millisecond of deadline, not one per attempt"


@async_test
async def test_an_attempt_that_ended_is_not_cancelled_when_its_timer_fires() -> None:
    timeouts = AttemptTimeouts()
    async with timeouts.after(0.01):
        pass
    await asyncio.sleep(0.05)  # the shared timer fires into an empty slot
    async with timeouts.after(5.0):
        await asyncio.sleep(0)


def test_an_encoded_result_is_a_dict_written_as_its_text() -> None:
    result = encoded({"b": 1, "a": [1, 2]})
    assert isinstance(result, EncodedObject) and result == {"a": [1, 2], "b": 1}
    assert result.text == '{"a":[1,2],"b":1}'
    with pytest.raises(TypeError):
        encoded({"when": object()})


class _Recorded:
    """Wraps a store's batch writer to keep every transition it wrote."""

    def __init__(self, store: Store) -> None:
        self.transitions: list[SagaTransition] = []
        self._apply_many = store.apply_saga_transitions

    def __call__(self, transitions: Sequence[SagaTransition]) -> list[TransitionIds]:
        self.transitions.extend(transitions)
        return self._apply_many(transitions)


@async_test
async def test_a_run_writes_its_saga_row_only_when_its_state_changes(store: Store) -> None:
    async def action(ctx: StepContext) -> Mapping[str, Any]:
        return {f"{ctx.step_name}_id": ctx.idempotency_key}

    async def undo(ctx: StepContext) -> None:
        return None

    steps = [SagaStep(f"s{i}", action, undo) for i in range(3)]

    async def dispatch(target: str, envelope: Any) -> Mapping[str, Any]:
        return {}

    recorded = _Recorded(store)
    store.apply_saga_transitions = recorded  # type: ignore[method-assign]
    orchestrator = SagaOrchestrator(store, [SagaDefinition("order", steps)], dispatch=dispatch)
    try:
        result = await orchestrator.run("order", {"order_id": "o-1"})
    finally:
        await orchestrator.close()
    assert result.state == "completed"
    updates = [t.update for t in recorded.transitions if t.update is not None]
    assert [u.state for u in updates] == ["completed"], "steps 0 and 1 wrote step rows only"
    assert all(isinstance(u, SagaUpdate) for u in updates)
    saga = store.get_saga(result.saga_id)
    assert saga is not None and saga.state == "completed" and saga.steps_completed == 3
    assert saga.data == {
        "order_id": "o-1",
        **{f"s{i}_id": f"{result.saga_id}:{i}:forward:1" for i in range(3)},
    }
    stored = [
        entry.result for entry in store.step_log(result.saga_id) if entry.status == "succeeded"
    ]
    assert stored == [{f"s{i}_id": f"{result.saga_id}:{i}:forward:1"} for i in range(3)]


def test_a_batch_counts_the_rows_of_each_statement(store: Store) -> None:
    assert isinstance(store, SqlBase)
    store.apply_saga_transition(SagaTransition(create=saga_row("s-1", "running", 1.0)))
    with store._transaction() as cursor:
        counts = cursor.run_batch(
            [
                ("UPDATE saga_executions SET updated_at = ? WHERE saga_id = ?", [(2.0, "s-1")]),
                ("UPDATE saga_executions SET updated_at = ? WHERE saga_id = ?", [(2.0, "none")]),
            ]
        )
    assert counts == [1, 0]


def test_a_batch_with_a_replayed_create_is_written_the_exact_way(store: Store) -> None:
    create = SagaTransition(create=saga_row("s-1", "running", 1.0))
    store.apply_saga_transitions([create])
    again = store.apply_saga_transitions(
        [create, SagaTransition(create=saga_row("s-2", "running", 2.0))]
    )
    assert again == [TransitionIds(), TransitionIds()]
    assert store.saga_state_counts() == {"running": 2}
