"""The hand-written baseline: an asyncio group-commit loop at sagacrew's durability.

One row per transition (saga started, step i started, step i succeeded, saga completed),
and each saga awaits the commit of its own rows before it acts on them. The rows of all
the sagas that are waiting share one transaction: a writer takes every pending row, commits
them in one batch, wakes their sagas, and takes what came meanwhile (one batch in flight).
"step i succeeded" and "step i+1 started" go in one commit (both are written before step
i+1 acts), as sagacrew may fold them, so a saga waits for 6 commits, 12 rows.

No recovery, retries, compensation or validation: the practical limit of the durability.

- SQLite: stdlib ``sqlite3`` in WAL mode at the given ``synchronous`` level, each batch one
  ``executemany`` and one COMMIT on a writer thread (the event loop goes on meanwhile).
- PostgreSQL: a psycopg ``AsyncConnection``, each batch one pipelined ``executemany``
  between BEGIN and COMMIT (one round trip).
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from _saga_bench import STEPS, Run, Service, StepClock, run_pool

Row = tuple[str, int, str, str, float]
INSERT = "INSERT INTO transitions (saga_id, seq, status, data, at) VALUES ({0}, {0}, {0}, {0}, {0})"
SCHEMA = (
    "CREATE TABLE transitions (saga_id TEXT NOT NULL, seq INTEGER NOT NULL, "
    "status TEXT NOT NULL, data TEXT NOT NULL, at {0} NOT NULL, PRIMARY KEY (saga_id, seq))"
)


def started_rows(saga_id: str, order_id: str) -> list[Row]:
    """A saga's first commit: "saga started" and "step0 started"."""
    data = json.dumps({"order_id": order_id})
    return [
        (saga_id, 0, "saga started", data, time.time()),
        (saga_id, 1, "step0 started", "{}", time.time()),
    ]


def succeeded_rows(saga_id: str, step: int, reply: Mapping[str, Any]) -> list[Row]:
    """Step ``step``'s commit: "step i succeeded" with ``reply``, and "step i+1 started"
    (after the last step, "saga completed")."""
    done = (saga_id, 2 + 2 * step, f"step{step} succeeded", json.dumps(reply), time.time())
    after = f"step{step + 1} started" if step + 1 < STEPS else "saga completed"
    return [done, (saga_id, 3 + 2 * step, after, "{}", time.time())]


class GroupCommit:
    """Commits rows in batches through ``write``; :meth:`commit` returns once they are in."""

    def __init__(self, write: Callable[[list[Row]], Awaitable[None]]) -> None:
        self._write = write
        self._rows: list[Row] = []
        self._waiters: list[asyncio.Future[None]] = []
        self._pending = asyncio.Event()
        self._task = asyncio.create_task(self._run())

    async def commit(self, rows: list[Row]) -> None:
        waiter = asyncio.get_running_loop().create_future()
        self._rows.extend(rows)
        self._waiters.append(waiter)
        self._pending.set()
        await waiter

    async def _run(self) -> None:
        while True:
            await self._pending.wait()
            self._pending.clear()
            rows, waiters = self._rows, self._waiters
            self._rows, self._waiters = [], []
            try:
                await self._write(rows)
            except Exception as exc:
                for waiter in waiters:
                    waiter.set_exception(exc)
            else:
                for waiter in waiters:
                    waiter.set_result(None)

    async def close(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


async def run_sagas(group: GroupCommit, count: int, concurrency: int) -> Run:
    """``count`` sagas, each writing its transitions through ``group``."""
    clock = StepClock()
    service = Service()

    async def one(index: int) -> None:
        saga_id = f"s-{index}"
        order_id = f"o-{index}"
        await group.commit(started_rows(saga_id, order_id))
        for step in range(STEPS):
            clock.mark(order_id)
            reply = service.reply(f"{saga_id}:step{step}", f"do{step}")
            await group.commit(succeeded_rows(saga_id, step, reply))

    try:
        return Run(await run_pool(count, concurrency, one), clock.cycles_ms())
    finally:
        await group.close()


async def run_sqlite(path: Path, synchronous: str, count: int, concurrency: int) -> Run:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(f"PRAGMA synchronous = {synchronous}")
    conn.execute(SCHEMA.format("REAL"))
    writer = ThreadPoolExecutor(1, thread_name_prefix="bench-writer")
    insert = INSERT.format("?")

    def write_now(rows: list[Row]) -> None:
        conn.execute("BEGIN")
        conn.executemany(insert, rows)
        conn.execute("COMMIT")

    async def write(rows: list[Row]) -> None:
        await asyncio.get_running_loop().run_in_executor(writer, write_now, rows)

    try:
        return await run_sagas(GroupCommit(write), count, concurrency)
    finally:
        writer.shutdown()
        conn.close()


async def run_postgres(url: str, count: int, concurrency: int) -> Run:
    """``url`` should name an empty schema (its search_path): the table is created there."""
    import psycopg

    conn = await psycopg.AsyncConnection.connect(url, autocommit=True)
    await conn.execute(SCHEMA.format("DOUBLE PRECISION"))
    insert = INSERT.format("%s")

    async def write(rows: list[Row]) -> None:
        async with conn.pipeline(), conn.transaction(), conn.cursor() as cursor:
            await cursor.executemany(insert, rows)

    try:
        return await run_sagas(GroupCommit(write), count, concurrency)
    finally:
        await conn.close()
