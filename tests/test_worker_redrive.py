"""Redrive with workers: an operator's redrive through a process in front of the workers
(``serve --workers``) reopens the saga and marks its dead letter in the store; the worker
that claims the saga runs the parked compensation, once, and the front sees the saga end."""

from __future__ import annotations

import asyncio
from contextlib import closing
from typing import Any

import pytest
from async_helpers import run
from saga_fakes import FakeService
from test_saga_versions import V1

from sagacrew.runtime import Envelope
from sagacrew.runtime.saga import Lease
from sagacrew.runtime.saga import SagaOrchestrator
from sagacrew.runtime.saga import SagaState
from sagacrew.runtime.store import open_store


@pytest.mark.postgres
def test_a_dead_letter_redriven_through_a_front_is_run_by_the_worker_that_claims_it(
    postgres_url: str,
) -> None:
    service = FakeService()
    undo_down = True

    async def dispatch(target: str, envelope: Envelope) -> Any:
        if envelope.name == "do" and envelope.payload.get("step") == "b":
            return {"refused": True}
        if envelope.name == "undo" and undo_down:
            raise RuntimeError("the undo's service is down")
        return await service.dispatch(target, envelope)

    async def main() -> None:
        with closing(open_store(postgres_url)) as one, closing(open_store(postgres_url)) as two:
            worker = SagaOrchestrator(one, [V1], dispatch=dispatch, lease=Lease("w", 2.0))
            front = SagaOrchestrator(two, [V1], dispatch=dispatch, lease=Lease("api", capacity=0))

            async def work() -> None:
                while True:
                    await worker.claim()
                    await asyncio.sleep(0.05)

            working = asyncio.create_task(work())
            await front.start("order", {}, saga_id="order-1")
            ended = await asyncio.wait_for(front.wait("order-1"), 30)  # the worker drove it
            assert ended.state is SagaState.COMPENSATION_FAILED
            (letter,) = one.list_dead_letters(status="parked", saga_id="order-1")
            nonlocal undo_down
            undo_down = False
            redriven = await asyncio.wait_for(front.redrive(letter.id), 30)
            assert redriven.state is SagaState.COMPENSATED
            (done,) = one.list_dead_letters(saga_id="order-1")
            assert done.status == "redriven"
            assert [(c, s) for _, c, s in service.applied] == [("do", "a"), ("undo", "a")]
            leases = one.query("SELECT owner, generation FROM saga_leases")
            assert leases == [("w", 2)], "the worker claimed the reopened saga and redrove it"
            working.cancel()
            await worker.close()
            await front.close()

    run(main, timeout_s=120)
