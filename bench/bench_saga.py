"""Durable saga throughput against a naive asyncio + sqlite3 loop, measured in the same run.

    python bench/bench_saga.py [--sagas N] [--concurrency N] [--synchronous FULL] [--repeat N]

Both sides run 5-step sagas, ``--concurrency`` at a time, over a SQLite file in WAL mode
with the same ``synchronous`` level, against the same in-memory service (one dict lookup
per command, deduplicated by idempotency key).

- durable: ``SagaOrchestrator`` over ``open_store("sqlite://...")`` (``_saga_bench.py``).
- naive: one coroutine per saga writing one row per transition, each in its own commit,
  with ``sqlite3`` directly: no recovery, no retries, no compensation, no idempotency keys.

Each figure is the best of ``--repeat`` runs; ratio = durable sagas/s / naive sagas/s.
The step cycle is from the body of step i starting to the body of step i+1 starting.
``bench_engines.py`` compares against the strongest baselines instead (a hand-written group
commit loop, DBOS Transact) on SQLite and PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

from _saga_bench import STEPS, Service, percentile, run_pool, run_sagacrew

from sagacrew.runtime import settle_startup_heap


async def naive(path: Path, count: int, concurrency: int, synchronous: str) -> float:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(f"PRAGMA synchronous = {synchronous}")
    conn.execute("CREATE TABLE sagas (id TEXT PRIMARY KEY, state TEXT, step INTEGER)")
    conn.execute("CREATE TABLE transitions (saga_id TEXT, step INTEGER, status TEXT, at REAL)")
    service = Service()

    def write(sql: str, params: tuple[Any, ...]) -> None:
        conn.execute("BEGIN")
        conn.execute(sql, params)
        conn.execute("COMMIT")

    async def one(index: int) -> None:
        saga_id = f"s-{index}"
        write("INSERT INTO sagas VALUES (?, 'running', 0)", (saga_id,))
        for step in range(STEPS):
            write(
                "INSERT INTO transitions VALUES (?, ?, 'started', ?)", (saga_id, step, time.time())
            )
            service.reply(f"{saga_id}:step{step}", f"do{step}")
            write(
                "INSERT INTO transitions VALUES (?, ?, 'succeeded', ?)",
                (saga_id, step, time.time()),
            )

    try:
        return await run_pool(count, concurrency, one)
    finally:
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sagas", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--synchronous", default="FULL", choices=["OFF", "NORMAL", "FULL"])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    settle_startup_heap()  # as a `serve` or `worker` process does once started
    best_durable = best_naive = 0.0
    cycles: list[float] = []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="bench-saga-") as tmp:
            url = f"sqlite://{Path(tmp) / 'd.db'}?synchronous={args.synchronous}"
            run = asyncio.run(run_sagacrew(url, args.sagas, args.concurrency))
            if run.rate > best_durable:
                best_durable, cycles = run.rate, run.cycles_ms
            best_naive = max(
                best_naive,
                asyncio.run(
                    naive(Path(tmp) / "n.db", args.sagas, args.concurrency, args.synchronous)
                ),
            )
    print(
        f"{STEPS}-step sagas, {args.concurrency} concurrent, synchronous={args.synchronous}, "
        f"best of {args.repeat} x {args.sagas} sagas"
    )
    print(f"durable orchestrator: {best_durable:8.1f} sagas/s")
    print(f"naive asyncio+sqlite3: {best_naive:8.1f} sagas/s")
    print(f"ratio (durable / naive): {best_durable / best_naive:.2f}")
    p50, p95, p99 = (percentile(cycles, p) for p in (50, 95, 99))
    print(f"step cycle (ms, {args.concurrency} concurrent): ", end="")
    print(f"p50 {p50:.2f} p95 {p95:.2f} p99 {p99:.2f}")


if __name__ == "__main__":
    main()
