"""Each step's result is stored once, in its step-log row: a saga's row takes its data
(and, while it runs, its step) when the saga starts and when its state changes, and
reading an unsettled saga merges its succeeded steps, so readers and recovery see the
data and the step as they are."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any

from async_helpers import run
from saga_fakes import Harness
from saga_fakes import ObservedStore

from sagacrew.runtime.saga import SagaDefinition
from sagacrew.runtime.saga import SagaState
from sagacrew.runtime.saga import SagaStep
from sagacrew.runtime.saga import StepContext

INPUT = {"order_id": "o-1"}


class Steps:
    """``reserve`` returns a hold, ``charge`` a payment and ``ship`` waits for
    ``released`` (once ``reached`` is set), then returns what it read of the data."""

    def __init__(self) -> None:
        self.reached = asyncio.Event()
        self.released = asyncio.Event()
        self.ship_saw: list[dict[str, Any]] = []

    def definition(self) -> SagaDefinition:
        async def reserve(ctx: StepContext) -> Mapping[str, Any]:
            return {"hold": "h-1"}

        async def charge(ctx: StepContext) -> Mapping[str, Any]:
            return {"payment": "p-1", "hold": "h-2"}

        async def ship(ctx: StepContext) -> Mapping[str, Any]:
            self.ship_saw.append(dict(ctx.data))
            self.reached.set()
            await self.released.wait()
            return {"parcel": "x-1"}

        async def nothing(ctx: StepContext) -> Mapping[str, Any]:
            return {}

        return SagaDefinition(
            "order",
            [
                SagaStep("reserve", reserve, nothing),
                SagaStep("charge", charge, nothing, pivot=True),
                SagaStep("ship", ship),
            ],
        )


def _stored_data(store: ObservedStore, saga_id: str) -> dict[str, Any]:
    """The saga row's ``data`` column as written."""
    ((data,),) = store.query("SELECT data FROM saga_executions WHERE saga_id = ?", (saga_id,))
    return dict(json.loads(data))


def _stored_step(store: ObservedStore, saga_id: str) -> tuple[int, int]:
    """The saga row's ``step_index`` and ``steps_completed`` columns as written."""
    ((index, completed),) = store.query(
        "SELECT step_index, steps_completed FROM saga_executions WHERE saga_id = ?", (saga_id,)
    )
    return int(index), int(completed)


def test_a_running_saga_row_keeps_its_data_and_step_and_reads_merge_its_steps(
    store: ObservedStore,
) -> None:
    steps = Steps()
    h = Harness(store, [steps.definition()])
    merged = {**INPUT, "hold": "h-2", "payment": "p-1"}

    async def main() -> None:
        saga_id = await h.orchestrator.start("order", dict(INPUT))
        await steps.reached.wait()
        assert _stored_data(store, saga_id) == INPUT, "no step rewrote it"
        assert _stored_step(store, saga_id) == (0, 0), "no step rewrote it"
        saga = store.get_saga(saga_id)
        assert saga is not None and saga.data == merged
        assert (saga.step_index, saga.steps_completed) == (2, 2)
        ((summary, _, _),) = store.saga_page()
        assert summary.steps_completed == 2
        assert [s.data for s in store.list_sagas(["running"])] == [merged]
        steps.released.set()
        result = await h.orchestrator.wait(saga_id)
        assert result.state is SagaState.COMPLETED
        assert _stored_data(store, saga_id) == {**merged, "parcel": "x-1"}, "settled: all"
        assert _stored_step(store, saga_id) == (3, 3)
        await h.orchestrator.close()

    run(main)
    assert steps.ship_saw == [merged]


def test_a_saga_recovered_after_a_crash_sees_the_results_of_its_done_steps(
    store: ObservedStore,
) -> None:
    steps = Steps()
    h = Harness(store, [steps.definition()])

    async def first_process() -> str:
        saga_id = await h.orchestrator.start("order", dict(INPUT))
        await steps.reached.wait()
        await h.orchestrator.close()
        return saga_id

    saga_id = run(first_process)
    steps.released.set()

    async def second_process() -> None:
        result = await h.recover_to_the_end(saga_id)
        assert result.state is SagaState.COMPLETED
        assert result.data == {**INPUT, "hold": "h-2", "payment": "p-1", "parcel": "x-1"}

    run(second_process)
    assert steps.ship_saw == [{**INPUT, "hold": "h-2", "payment": "p-1"}] * 2
