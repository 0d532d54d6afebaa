"""A worker's claim reads the rows of the sagas it claimed together: three queries
whatever their number, instead of three per saga, each a wait on the event loop (a round
trip on PostgreSQL). A saga whose rows cannot be read is still quarantined alone."""

from __future__ import annotations

import asyncio
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


class CountedReads(SqliteStore):
    """Counts the read statements it runs."""

    reads = 0

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        self.reads += 1
        return super()._read(sql, params)


async def action(ctx: StepContext) -> Mapping[str, Any]:
    return {f"{ctx.step_name}_done": True}


async def dispatch(target: str, envelope: Envelope) -> Mapping[str, Any]:
    return {}


QUICK = SagaDefinition(
    "quick", [SagaStep("one", action, compensation=action), SagaStep("two", action, pivot=True)]
)


@async_test
async def test_a_claim_reads_its_sagas_rows_together_whatever_their_number(
    tmp_path: Path,
) -> None:
    store = CountedReads(str(tmp_path / "state.db"))
    worker = SagaOrchestrator(store, [QUICK], dispatch=dispatch, lease=Lease("w1"))
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
    worker = SagaOrchestrator(store, [QUICK], dispatch=dispatch, lease=Lease("w1"))
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
