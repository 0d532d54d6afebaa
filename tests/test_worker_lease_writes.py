"""A worker's per-saga lease writes leave the event loop: the release of a finished saga's
lease and a completion event handed to another worker's inbox commit on the store's
writer thread, after the saga's own transitions, like them.

They come once per saga (or per completion event), and each waited for the disk or the
server on the event loop, stopping every saga the worker drives.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from async_helpers import async_test

from sagacrew.runtime import Envelope
from sagacrew.runtime.saga import Lease
from sagacrew.runtime.saga import SagaDefinition
from sagacrew.runtime.saga import SagaOrchestrator
from sagacrew.runtime.saga import SagaState
from sagacrew.runtime.saga import SagaStep
from sagacrew.runtime.saga import StepContext
from sagacrew.runtime.store import SqliteStore


class LeaseThreads(SqliteStore):
    """Notes the thread of each lease release and inbox post."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.written_on: list[tuple[str, threading.Thread]] = []

    def release_lease(self, owner: str, saga_id: str) -> None:
        self.written_on.append(("release", threading.current_thread()))
        super().release_lease(owner, saga_id)

    def post_to_inbox(
        self, correlation_id: str, event_name: str, payload: Mapping[str, Any], now: float
    ) -> None:
        self.written_on.append(("inbox", threading.current_thread()))
        super().post_to_inbox(correlation_id, event_name, payload, now)


async def action(ctx: StepContext) -> Mapping[str, Any]:
    return {f"{ctx.step_name}_done": True}


async def dispatch(target: str, envelope: Envelope) -> Mapping[str, Any]:
    return {}


QUICK = SagaDefinition(
    "quick", [SagaStep("one", action, compensation=action), SagaStep("two", action, pivot=True)]
)
WAITS = SagaDefinition(
    "train",
    [
        SagaStep(
            "dispatch",
            action,
            compensation=action,
            completion_event="ml.job.finished",
            timeout_s=30.0,
        ),
        SagaStep("register", action, pivot=True),
    ],
)


@async_test
async def test_a_finished_sagas_lease_is_released_on_the_writer_thread(tmp_path: Path) -> None:
    store = LeaseThreads(str(tmp_path / "state.db"))
    worker = SagaOrchestrator(store, [QUICK], dispatch=dispatch, lease=Lease("w1"))
    saga_id = await worker.start("quick", {})
    assert await worker.claim() == [saga_id]
    result = await asyncio.wait_for(worker.wait(saga_id), 10)
    assert result.state is SagaState.COMPLETED
    assert store.written_on == [("release", store.writer_thread().thread)]
    [(expires_at,)] = store.query(
        "SELECT expires_at FROM saga_leases WHERE saga_id = ?", (saga_id,)
    )
    assert expires_at == 0, "released by the time wait() returned"
    await worker.close()
    store.close()


@async_test
async def test_an_event_for_another_workers_saga_is_posted_on_the_writer_thread(
    tmp_path: Path,
) -> None:
    store = LeaseThreads(str(tmp_path / "state.db"))
    owner = SagaOrchestrator(store, [WAITS], dispatch=dispatch, lease=Lease("owner"))
    other = SagaOrchestrator(store, [WAITS], dispatch=dispatch, lease=Lease("other"))
    saga_id = await owner.start("train", {}, correlation_id="job-7")
    assert await owner.claim() == [saga_id]
    while owner.status(saga_id).state is not SagaState.WAITING:
        await asyncio.sleep(0.01)
    assert await other.deliver("ml.job.finished", "job-7", {"model": "m-7"}) is False
    assert store.written_on == [("inbox", store.writer_thread().thread)]
    assert await owner.take_inbox() == 1
    result = await asyncio.wait_for(owner.wait(saga_id), 10)
    assert result.state is SagaState.COMPLETED and result.data["model"] == "m-7"
    for orchestrator in (owner, other):
        await orchestrator.close()
    store.close()
