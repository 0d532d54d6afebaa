"""Scale-out: sagas/s with 1, 2 and 4 workers over one PostgreSQL, and failover time.

    python bench/bench_workers.py [--sagas N] [--workers 1,2,4] [--lease-s 2] [--postgres URL]

Each saga has 5 steps whose action waits 5 ms on I/O (so two cores are not the limit: a
worker spends its time waiting, as it does on real services). The sagas are queued by a
client in the store; ``N`` worker processes (``sagacrew.runtime.worker``) claim and drive
them. Printed: sagas/s per worker count and its ratio to one worker (measured in the same
run), then the failover time: two workers run, one is killed with SIGKILL, and the time
from the kill to the first step that the other worker runs for one of the dead worker's
sagas, against the lease length.

PostgreSQL: ``--postgres URL``, else a throwaway durable cluster as the tests start one
(skipped with one line when neither is there).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from _postgres import INSTALL_HINT, DurableServer, find_bin_dir, fresh_schema

from sagacrew.runtime import Envelope, SupervisorPlan
from sagacrew.runtime.saga import Lease, SagaDefinition, SagaOrchestrator, SagaStep, StepContext
from sagacrew.runtime.store import open_store
from sagacrew.runtime.system_definition import SystemDefinition

STEPS = 5
IO_S = 0.005


def step(index: int) -> Any:
    async def action(ctx: StepContext) -> Mapping[str, Any]:
        await asyncio.sleep(IO_S)  # a call to a service: the worker waits, the CPU does not
        return {f"s{index}": True}

    return action


SAGA = SagaDefinition(
    "io",
    [SagaStep(f"s{i}", step(i), compensation=step(i), pivot=i == STEPS - 1) for i in range(STEPS)],
    deadline_s=600.0,
)
SYSTEM = SystemDefinition(
    name="bench_io",
    aggregates=(),
    gateways=(),
    supervision=SupervisorPlan("root", "one_for_one", intensity=3, period_s=5.0, children=()),
    sagas=(SAGA,),
)


def worker_main(url: str, worker_id: str, lease_s: float, capacity: int) -> None:
    """A worker process of the benchmark system (this file run with ``--worker``)."""
    from sagacrew.runtime.worker import WorkerOptions, serve_worker

    options = WorkerOptions(worker_id, lease_s=lease_s, poll_s=0.05, capacity=capacity)
    serve_worker(SYSTEM, url, options)


def start_workers(
    url: str, count: int, lease_s: float, capacity: int = 500
) -> list[subprocess.Popen[bytes]]:
    here = str(Path(__file__).resolve())
    return [
        subprocess.Popen(
            [sys.executable, here, "--worker", url, f"w{i}", str(lease_s), str(capacity)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for i in range(count)
    ]


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        process.wait(timeout=60)


async def queue(url: str, count: int) -> None:
    """Queue ``count`` sagas, as a client (the API) does."""

    async def nobody(target: str, envelope: Envelope) -> Mapping[str, Any]:
        raise AssertionError("a client dispatches nothing")

    store = open_store(url)
    client = SagaOrchestrator(store, [SAGA], dispatch=nobody, lease=Lease("client"))
    for first in range(0, count, 500):
        ids = range(first, min(first + 500, count))
        await asyncio.gather(*(client.start("io", {}, saga_id=f"io-{i:06d}") for i in ids))
    await client.close()
    store.close()


def throughput(url: str, sagas: int, workers: int, lease_s: float) -> float:
    """Sagas/s of ``workers`` workers over ``sagas`` queued sagas (each worker may drive
    them all: the count of workers, not their capacity, is what is measured)."""
    asyncio.run(queue(url, sagas))
    store = open_store(url)
    processes = start_workers(url, workers, lease_s, capacity=max(1, sagas // (2 * workers)))
    try:
        begin = time.perf_counter()
        while store.saga_state_counts().get("completed", 0) < sagas:
            assert time.perf_counter() - begin < 600, "the workers stopped finishing sagas"
            time.sleep(0.05)
        return sagas / (time.perf_counter() - begin)
    finally:
        store.close()
        stop(processes)


def failover(url: str, sagas: int, lease_s: float) -> float:
    """Seconds from SIGKILL of one of two workers to the first step the other runs for a
    saga the dead one held."""
    asyncio.run(queue(url, sagas))
    processes = start_workers(url, 2, lease_s, capacity=max(1, sagas // 4))
    store = open_store(url)
    deadline = time.monotonic() + 120
    try:
        while True:
            assert time.monotonic() < deadline, "the first worker never held a saga"
            rows = store.query(
                "SELECT COUNT(*) FROM saga_leases l JOIN saga_executions s "
                "ON s.saga_id = l.saga_id WHERE l.owner = 'w0' AND s.state = 'running'"
            )
            if rows[0][0] > 0:
                break
            time.sleep(0.01)
        held = {
            str(saga_id)
            for (saga_id,) in store.query(
                "SELECT l.saga_id FROM saga_leases l JOIN saga_executions s "
                "ON s.saga_id = l.saga_id WHERE l.owner = 'w0' AND s.state = 'running'"
            )
        }
        os.kill(processes[0].pid, signal.SIGKILL)
        killed = time.time()
        marks = ", ".join("?" for _ in held)
        written = (  # when a row of the dead worker's sagas was written after the kill
            f"SELECT MIN(t) FROM (SELECT started_at AS t FROM saga_step_log WHERE saga_id IN "
            f"({marks}) UNION ALL SELECT ended_at FROM saga_step_log WHERE saga_id IN "
            f"({marks})) AS x WHERE t > ?"
        )
        while True:
            assert time.monotonic() < deadline, "no saga of the dead worker was resumed"
            rows = store.query(written, (*sorted(held), *sorted(held), killed))
            if rows[0][0] is not None:
                return float(rows[0][0]) - killed
            time.sleep(0.01)
    finally:
        store.close()
        stop(processes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sagas", type=int, default=2000)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--lease-s", type=float, default=2.0)
    parser.add_argument("--postgres", metavar="URL")
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",")]
    server = None
    url = args.postgres
    if url is None:
        if find_bin_dir() is None:
            print(f"PostgreSQL: skipped ({INSTALL_HINT}, or pass --postgres URL)")
            return
        server = DurableServer.start()
        url = server.url
    try:
        rates: dict[int, float] = {}
        for workers in counts:
            with fresh_schema(url) as (schema_url, _):
                rates[workers] = throughput(schema_url, args.sagas, workers, args.lease_s)
        with fresh_schema(url) as (schema_url, _):
            moved = failover(schema_url, max(200, args.sagas // 4), args.lease_s)
    finally:
        if server is not None:
            server.stop()
    base = rates[counts[0]]
    print(f"{STEPS}-step sagas, each step waits {IO_S * 1000:.0f} ms on I/O; {args.sagas} sagas")
    for workers, rate in rates.items():
        print(
            f"  {workers} worker(s): {rate:8.1f} sagas/s  ratio to {counts[0]}: {rate / base:.2f}"
        )
    print(
        f"failover: {moved:.2f} s from SIGKILL to the first resumed step "
        f"({moved / args.lease_s:.2f} of the {args.lease_s:g} s lease)"
    )


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "--worker":
        worker_main(sys.argv[2], sys.argv[3], float(sys.argv[4]), int(sys.argv[5]))
    else:
        main()
