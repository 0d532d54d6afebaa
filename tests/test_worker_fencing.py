"""The fencing token: a worker that lost a saga's lease while one of its steps ran (it was
paused past the lease) cannot write that saga again; the new owner finishes it, once."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import pytest
from async_helpers import async_test

from sagacrew.runtime import Envelope
from sagacrew.runtime.saga import Lease
from sagacrew.runtime.saga import SagaDefinition
from sagacrew.runtime.saga import SagaOrchestrator
from sagacrew.runtime.saga import SagaState
from sagacrew.runtime.saga import SagaStep
from sagacrew.runtime.saga import StepContext
from sagacrew.runtime.store import open_store

pytestmark = pytest.mark.postgres


class Clock:
    """The wall clock the workers share, moved by hand."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def step(name: str) -> Any:
    async def action(ctx: StepContext) -> Mapping[str, Any]:
        return await ctx.send("svc", name, {"n": 1})

    return action


DEFINITION = SagaDefinition(
    "pay",
    [
        SagaStep("reserve", step("reserve"), compensation=step("release"), pivot=True),
        SagaStep("charge", step("charge")),
    ],
)


@async_test
async def test_a_worker_that_lost_the_lease_mid_step_cannot_write_the_saga(
    postgres_url: str,
) -> None:
    clock = Clock()
    applied: list[tuple[str, str]] = []
    frozen = asyncio.Event()
    thawed = asyncio.Event()

    def dispatcher(worker: str) -> Any:
        async def dispatch(target: str, envelope: Envelope) -> Mapping[str, Any]:
            applied.append((worker, envelope.name))
            if worker == "a" and envelope.name == "charge":
                frozen.set()
                await thawed.wait()  # paused past its lease
            return {f"{envelope.name}_done": True}

        return dispatch

    def worker(name: str) -> SagaOrchestrator:
        return SagaOrchestrator(
            open_store(postgres_url),
            [DEFINITION],
            dispatch=dispatcher(name),
            lease=Lease(name, lease_s=1.0, clock=clock),
        )

    a, b = worker("a"), worker("b")
    saga_id = await a.start("pay", {})
    assert await a.claim() == [saga_id]
    await frozen.wait()
    assert await b.claim() == [], "a's lease still runs"
    clock.now += 2.0  # a's lease expires: b takes the saga over and finishes it
    assert await b.claim() == [saga_id]
    assert (await b.wait(saga_id)).state is SagaState.COMPLETED
    thawed.set()  # a wakes up and tries to record the charge it made
    await asyncio.sleep(0.2)
    assert a.writes_refused == 1
    assert a.in_flight == 0, "a let the saga go"
    log = b.store.step_log(saga_id)
    assert [(r.step_name, r.status) for r in log if r.status == "succeeded"] == [
        ("reserve", "succeeded"),
        ("charge", "succeeded"),
    ], "a's late success is not in the log"
    assert applied.count(("b", "charge")) == 1
    await a.close()
    await b.close()
    a.store.close()
    b.store.close()


WAITS = SagaDefinition(
    "train",
    [
        SagaStep(
            "dispatch",
            step("dispatch"),
            compensation=step("cancel"),
            completion_event="ml.job.finished",
            timeout_s=30.0,
        ),
        SagaStep("register", step("register"), pivot=True),
    ],
)


@async_test
async def test_a_completion_event_received_by_another_worker_reaches_the_sagas_owner(
    postgres_url: str,
) -> None:
    async def dispatch(target: str, envelope: Envelope) -> Mapping[str, Any]:
        return {f"{envelope.name}_done": True}

    def worker(name: str) -> SagaOrchestrator:
        return SagaOrchestrator(
            open_store(postgres_url), [WAITS], dispatch=dispatch, lease=Lease(name)
        )

    owner, other = worker("owner"), worker("other")
    saga_id = await owner.start("train", {}, correlation_id="job-7")
    assert await owner.claim() == [saga_id]
    while owner.status(saga_id).state is not SagaState.WAITING:
        await asyncio.sleep(0.01)
    assert await other.deliver("ml.job.finished", "job-7", {"model": "m-7"}) is False
    assert other.in_flight == 0, "the other worker did not take the saga"
    assert await owner.take_inbox() == 1
    result = await owner.wait(saga_id)
    assert result.state is SagaState.COMPLETED and result.data["model"] == "m-7"
    assert await owner.take_inbox() == 0, "delivered once, then removed"
    for orchestrator in (owner, other):
        await orchestrator.close()
        orchestrator.store.close()
