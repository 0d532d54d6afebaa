"""What the processes in front of the workers see of them: each worker's entry in the
store's registry (rewritten at every heartbeat, stamped when it stops), ``/metrics`` per
worker and in total, and ``GET /api/workers``."""

from __future__ import annotations

import asyncio
from contextlib import closing

import pytest
from async_helpers import run
from fastapi.testclient import TestClient
from http_helpers import example_app
from prometheus_client import CollectorRegistry
from prometheus_client import generate_latest
from worker_checks import DEFINITION

from sagacrew.runtime import SagaSystem
from sagacrew.runtime.saga import Lease
from sagacrew.runtime.saga import SagaPaused
from sagacrew.runtime.store import WorkerCounts
from sagacrew.runtime.store import WorkerRecord
from sagacrew.runtime.store import open_store
from sagacrew.runtime.worker import WorkerOptions
from sagacrew.runtime.worker import run_worker
from sagacrew.runtime.worker_metrics import WorkerCollector


def record(worker_id: str, seen_at: float, **counts: int) -> WorkerRecord:
    return WorkerRecord(worker_id, 2.0, 100.0, seen_at, None, WorkerCounts(**counts))


def test_the_registry_keeps_each_worker_s_last_report_and_the_pause_switch(
    store_url: str,
) -> None:
    with closing(open_store(store_url)) as store:
        assert store.workers() == [] and store.cluster_paused() is False
        store.report_worker(record("w1", 101.0, claimed=3, driving=3))
        store.report_worker(record("w2", 101.0))
        store.report_worker(record("w1", 102.0, claimed=5, driving=1, leases_lost=1))
        assert store.workers() == [
            record("w1", 102.0, claimed=5, driving=1, leases_lost=1),
            record("w2", 101.0),
        ]
        assert [w.live(103.0) for w in store.workers()] == [True, True]
        assert [w.live(103.5) for w in store.workers()] == [True, False]  # w2: lease passed
        store.set_paused(True, 104.0)
        assert store.cluster_paused() is True
        store.set_paused(False, 105.0)
        assert store.cluster_paused() is False


def test_metrics_show_each_worker_and_the_totals(sqlite_url: str) -> None:
    with closing(open_store(sqlite_url)) as store:
        store.report_worker(record("w1", 1000.0, claimed=7, driving=4, writes_refused=2))
        store.report_worker(record("w2", 1000.0, claimed=5, driving=3))
        store.report_worker(record("w3", 990.0, claimed=9, driving=6))  # died 10 s ago
        registry = CollectorRegistry()
        registry.register(WorkerCollector(store, clock=lambda: 1001.0))
        text = generate_latest(registry).decode()
    lines = set(text.splitlines())
    assert 'sagacrew_worker_up{worker="w1"} 1.0' in lines
    assert 'sagacrew_worker_up{worker="w3"} 0.0' in lines
    assert 'sagacrew_worker_driving{worker="w1"} 4.0' in lines
    assert 'sagacrew_worker_driving{worker="w3"} 0.0' in lines, "a dead worker drives nothing"
    assert 'sagacrew_worker_writes_refused{worker="w1"} 2.0' in lines
    assert "sagacrew_workers_live 2.0" in lines
    assert "sagacrew_workers_driving 7.0" in lines
    assert "sagacrew_workers_claimed 21.0" in lines


@pytest.mark.postgres
def test_a_running_worker_is_in_the_registry_and_api_and_stamped_when_it_stops(
    postgres_url: str,
) -> None:
    async def main() -> None:
        stop = asyncio.Event()
        options = WorkerOptions(worker_id="w-api", lease_s=1.0, poll_s=0.05)
        running = asyncio.create_task(run_worker(DEFINITION, postgres_url, options, stop=stop))
        with closing(open_store(postgres_url)) as store:
            for _ in range(200):
                if store.workers():
                    break
                await asyncio.sleep(0.05)
            (seen,) = store.workers()
            assert seen.worker_id == "w-api" and seen.stopped_at is None and seen.lease_s == 1.0
            front = DEFINITION.build(SagaSystem, store, lease=Lease("api", capacity=0))
            with TestClient(example_app(front, "op")) as client:
                listed = client.get("/api/workers").json()
            assert listed["live"] == 1
            assert [w["worker_id"] for w in listed["workers"]] == ["w-api"]
            stop.set()
            report = await running
            (stopped,) = store.workers()
            assert stopped.stopped_at is not None and not stopped.live(stopped.seen_at)
            assert stopped.counts.claimed == report.claimed

    run(main, timeout_s=120)


@pytest.mark.postgres
def test_pause_and_drain_act_on_every_process_in_front_of_the_workers(
    postgres_url: str,
) -> None:
    async def main() -> None:
        with closing(open_store(postgres_url)) as one, closing(open_store(postgres_url)) as two:
            front = DEFINITION.build(SagaSystem, one, lease=Lease("api-1", capacity=0))
            other = DEFINITION.build(SagaSystem, two, lease=Lease("api-2", capacity=0))
            async with front, other:
                a, b = front.orchestrator, other.orchestrator
                assert a is not None and b is not None
                inputs = DEFINITION.sample_inputs("create_order", 1, "p")
                await b.start("create_order", inputs, saga_id="queued-1")
                a.pause()
                assert b.paused, "paused by another process"
                with pytest.raises(SagaPaused):
                    await b.start("create_order", inputs, saga_id="refused")
                assert await b.drain(0.3) == 1, "one saga queued, no worker drives it"
                stop = asyncio.Event()
                options = WorkerOptions(worker_id="w", lease_s=1.0, poll_s=0.05)
                worker = asyncio.create_task(
                    run_worker(DEFINITION, postgres_url, options, stop=stop)
                )
                assert await b.drain(30.0) == 0, "the worker finished it"
                b.resume()
                assert not a.paused
                await a.start("create_order", inputs, saga_id="accepted")
                stop.set()
                await worker
            assert one.get_saga("refused") is None

    run(main, timeout_s=120)
