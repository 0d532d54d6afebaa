"""A worker's per-saga store I/O no longer holds the event loop.

- The release of a finished saga's lease and a completion event handed to another
  worker's inbox commit on the store's writer thread, after the saga's own transitions,
  like them. Each came once per saga (or per completion event) and waited for the disk or
  the server on the event loop, stopping every saga the worker drives.
- A claim reads the rows of the sagas it claimed together: three queries whatever their
  number, instead of three per saga (each a round trip on PostgreSQL). A saga whose rows
  cannot be read is still quarantined alone.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from async_helpers import async_test
from corruption import corrupt

from sagacrew.runtime import Envelope
from sagacrew.runtime.saga import Lease
from sagacrew.runtime.saga import SagaDefinition
from sagacrew.runtime.saga import SagaError
from sagacrew.runtime.saga import SagaOrchestrator
from sagacrew.runtime.saga import SagaState
from sagacrew.runtime.saga import SagaStep
from sagacrew.runtime.saga import StepContext
from sagacrew.runtime.store import SqliteStore
from sagacrew.runtime.store import Store


class CountedReads(SqliteStore):
    """Counts the read statements it runs."""

    reads = 0

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        self.reads += 1
        return super()._read(sql, params)


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


def worker_on(store: Store, name: str, definition: SagaDefinition) -> SagaOrchestrator:
    """Worker ``name`` over ``store``, driving sagas of ``definition``."""
    return SagaOrchestrator(store, [definition], dispatch=dispatch, lease=Lease(name))


@async_test
async def test_a_finished_sagas_lease_is_released_on_the_writer_thread(tmp_path: Path) -> None:
    store = LeaseThreads(str(tmp_path / "state.db"))
    worker = worker_on(store, "w1", QUICK)
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
    owner = worker_on(store, "owner", WAITS)
    other = worker_on(store, "other", WAITS)
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


@async_test
async def test_a_claim_reads_its_sagas_rows_together(tmp_path: Path) -> None:
    store = CountedReads(str(tmp_path / "state.db"))
    worker = worker_on(store, "w1", QUICK)
    started = [await worker.start("quick", {"n": i}) for i in range(30)]
    store.reads = 0
    claimed = await worker.claim()
    reads = store.reads
    assert sorted(claimed) == sorted(started)
    assert reads <= 4, f"claiming 30 sagas took {reads} reads"
    results = await asyncio.wait_for(asyncio.gather(*(worker.wait(s) for s in started)), 10)
    assert {result.state for result in results} == {SagaState.COMPLETED}
    assert sorted(result.data["n"] for result in results) == list(range(30))
    await worker.close()
    store.close()


@async_test
async def test_a_claimed_saga_whose_rows_cannot_be_read_is_quarantined_and_the_rest_run(
    tmp_path: Path,
) -> None:
    url = f"sqlite://{tmp_path / 'state.db'}"
    store = SqliteStore(str(tmp_path / "state.db"))
    worker = worker_on(store, "w1", QUICK)
    good = await worker.start("quick", {})
    bad = await worker.start("quick", {})
    corrupt(url, "UPDATE saga_executions SET data = 'not json' WHERE saga_id = ?", bad)
    assert await worker.claim() == [good]
    result = await asyncio.wait_for(worker.wait(good), 10)
    assert result.state is SagaState.COMPLETED
    try:
        await asyncio.wait_for(worker.wait(bad), 10)
        raise AssertionError("the corrupt saga was not quarantined")
    except SagaError as error:
        assert "quarantined" in str(error)
    await worker.close()
    store.close()
