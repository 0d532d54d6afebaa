"""Durable saga throughput against a naive asyncio + sqlite3 loop, measured in the same run.

    python bench/bench_saga.py [--sagas N] [--concurrency N] [--synchronous FULL] [--repeat N]

Both sides run 5-step sagas, ``--concurrency`` at a time, over a SQLite file in WAL mode
with the same ``synchronous`` level, against the same in-memory service (one dict lookup
per command, deduplicated by idempotency key).

- durable: ``SagaOrchestrator`` over ``open_store("sqlite://...")``: a saga row, then per
  step a 'started' row before the action and a 'succeeded' row plus the saga update after
  it, each transition its own transaction (11 transactions per saga).
- naive: one coroutine per saga writing one row per transition (the same 11 commits) with
  ``sqlite3`` directly: no recovery, no retries, no compensation, no idempotency keys.

Each figure is the best of ``--repeat`` runs; ratio = durable sagas/s / naive sagas/s.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sagacrew.runtime.messages import Envelope
from sagacrew.runtime.saga import SagaDefinition, SagaOrchestrator, SagaStep, StepContext
from sagacrew.runtime.store import open_store

STEPS = 5


class Service:
    """Replies once per idempotency key."""

    def __init__(self) -> None:
        self.replies: dict[str, dict[str, Any]] = {}

    async def dispatch(self, target: str, envelope: Envelope) -> Mapping[str, Any]:
        key = envelope.idempotency_key or envelope.message_id
        reply = self.replies.get(key)
        if reply is None:
            reply = self.replies[key] = {f"{envelope.name}_id": key}
        return reply


def definition() -> SagaDefinition:
    def action(name: str) -> Any:
        async def run(ctx: StepContext) -> Mapping[str, Any]:
            return await ctx.send("svc", name, {"order_id": ctx.data["order_id"]})

        return run

    steps = [
        SagaStep(f"step{i}", action(f"do{i}"), action(f"undo{i}"), pivot=i == STEPS - 2)
        for i in range(STEPS)
    ]
    return SagaDefinition("bench", steps)


async def run_pool(count: int, concurrency: int, one: Any) -> float:
    """Run ``one(i)`` for i < count with at most ``concurrency`` in flight; sagas/s."""
    next_index = iter(range(count))

    async def worker() -> None:
        for index in next_index:
            await one(index)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return count / (time.perf_counter() - started)


async def durable(
    path: Path, count: int, concurrency: int, synchronous: str
) -> tuple[float, list[float]]:
    """Sagas/s, and every step's latency in ms (the orchestrator's overhead: the service
    answers at once)."""
    store = open_store(f"sqlite://{path}?synchronous={synchronous}")
    orchestrator = SagaOrchestrator(store, [definition()], dispatch=Service().dispatch)

    async def one(index: int) -> None:
        result = await orchestrator.run("bench", {"order_id": f"o-{index}"})
        assert result.state == "completed", result

    try:
        rate = await run_pool(count, concurrency, one)
        rows = store.query(
            "SELECT latency_ms FROM saga_step_log "
            "WHERE phase = 'forward' AND status = 'succeeded' ORDER BY latency_ms"
        )
        return rate, [float(latency) for (latency,) in rows]
    finally:
        await orchestrator.close()
        store.close()


def percentile(ordered: list[float], percent: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    rank = max(1, -(-len(ordered) * percent // 100))
    return ordered[int(rank) - 1]


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
            envelope = Envelope(f"do{step}", {"order_id": f"o-{index}"}, saga_id, saga_id)
            await service.dispatch("svc", envelope)
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
    best_durable = best_naive = 0.0
    latencies: list[float] = []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="bench-saga-") as tmp:
            rate, steps = asyncio.run(
                durable(Path(tmp) / "d.db", args.sagas, args.concurrency, args.synchronous)
            )
            if rate > best_durable:
                best_durable, latencies = rate, steps
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
    p50, p95, p99 = (percentile(latencies, p) for p in (50, 95, 99))
    print(f"step overhead (ms, {args.concurrency} concurrent): ", end="")
    print(f"p50 {p50:.2f} p95 {p95:.2f} p99 {p99:.2f}")


if __name__ == "__main__":
    main()
