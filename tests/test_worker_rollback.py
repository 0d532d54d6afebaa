"""The rollback procedure run from a process in front of the workers acts on the whole
cluster: new sagas are refused everywhere, the sagas in flight in every worker are drained,
every live worker restarts its actors (rebuilt from snapshots and events), and only then
does the cluster resume."""

from __future__ import annotations

import asyncio
from contextlib import closing

import pytest
from async_helpers import run
from test_ops_rollback import EVERY_STEP_OK
from test_ops_rollback import steps
from worker_checks import DEFINITION

from sagacrew.runtime import SagaSystem
from sagacrew.runtime.operations import rollback
from sagacrew.runtime.saga import Lease
from sagacrew.runtime.store import open_store
from sagacrew.runtime.worker import WorkerOptions
from sagacrew.runtime.worker import run_worker

pytestmark = pytest.mark.postgres


def test_a_rollback_in_front_of_two_workers_drains_them_and_restarts_their_actors(
    postgres_url: str,
) -> None:
    async def main() -> None:
        stop = asyncio.Event()
        running = [
            asyncio.create_task(
                run_worker(
                    DEFINITION,
                    postgres_url,
                    WorkerOptions(worker_id=name, lease_s=1.0, poll_s=0.05),
                    stop=stop,
                )
            )
            for name in ("w1", "w2")
        ]
        with closing(open_store(postgres_url)) as store:
            front = DEFINITION.build(SagaSystem, store, lease=Lease("api", capacity=0))
            async with front:
                orchestrator = front.orchestrator
                assert orchestrator is not None
                for i in range(20):
                    inputs = DEFINITION.sample_inputs("create_order", i, "rb")
                    await orchestrator.start("create_order", inputs, saga_id=f"rb-{i}")
                while len([w for w in store.workers() if w.stopped_at is None]) < 2:
                    await asyncio.sleep(0.05)
                report = await rollback(front, drain_timeout_s=30.0, validate=lambda: True)
                assert steps(report) == EVERY_STEP_OK, report.steps
                assert "in every live worker" in report.steps[2].detail
                assert report.resumed and not orchestrator.paused
                assert store.saga_state_counts() == {"completed": 20}, "drained in the workers"
                assert {w.worker_id: w.actors_epoch for w in store.workers()} == {
                    "w1": 1,
                    "w2": 1,
                }
            stop.set()
            await asyncio.gather(*running)

    run(main, timeout_s=120)
