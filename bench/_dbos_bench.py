"""DBOS Transact durable workflows running the benchmark saga (``pip install 'sagacrew[bench]'``).

One async workflow of ``STEPS`` async steps, each step calling the same in-memory service;
DBOS checkpoints the workflow's start, each step's output and its end in its system
database. On SQLite the system database gets WAL and the benchmark's ``synchronous`` level
(DBOS's own engine settings otherwise: IMMEDIATE transactions, busy timeout, foreign
keys); on PostgreSQL it gets a fresh schema on the server's defaults (synchronous_commit
on). Everything else is DBOS's default configuration.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from _saga_bench import STEPS, Run, Service, StepClock, run_pool
from dbos import DBOS, DBOSConfig
from sqlalchemy import event


class _Current:
    """The clock and service of the run in progress (DBOS steps are registered once)."""

    clock = StepClock()
    service = Service()


def _step(index: int) -> Any:
    @DBOS.step(name=f"step{index}")
    async def step(saga_key: str) -> dict[str, Any]:
        _Current.clock.mark(saga_key)
        return _Current.service.reply(f"{saga_key}:step{index}", f"do{index}")

    return step


_STEPS = [_step(index) for index in range(STEPS)]


@DBOS.workflow(name="bench")
async def _saga(order_id: str) -> None:
    for step in _STEPS:
        await step(order_id)


def _sqlite_engine(path: Path, synchronous: str) -> sa.Engine:
    engine = sa.create_engine(f"sqlite:///{path}")

    @event.listens_for(engine, "connect")
    def configure(connection: Any, _record: Any) -> None:
        connection.isolation_level = "IMMEDIATE"
        for pragma in (
            "busy_timeout = 30000",
            "foreign_keys = ON",
            "journal_mode = WAL",
            f"synchronous = {synchronous}",
        ):
            connection.execute(f"PRAGMA {pragma}")

    return engine


async def _run(config: DBOSConfig, count: int, concurrency: int) -> Run:
    _Current.clock, _Current.service = StepClock(), Service()
    DBOS(config=config)
    DBOS.launch()

    async def one(index: int) -> None:
        await _saga(f"o-{index}")

    try:
        return Run(await run_pool(count, concurrency, one), _Current.clock.cycles_ms())
    finally:
        DBOS.destroy()


async def run_sqlite(path: Path, synchronous: str, count: int, concurrency: int) -> Run:
    config: DBOSConfig = {
        "name": "bench",
        "system_database_url": f"sqlite:///{path}",
        "system_database_engine": _sqlite_engine(path, synchronous),
        "log_level": "WARNING",
    }
    return await _run(config, count, concurrency)


async def run_postgres(url: str, schema: str, count: int, concurrency: int) -> Run:
    config: DBOSConfig = {
        "name": "bench",
        "system_database_url": url,
        "dbos_system_schema": schema,
        "log_level": "WARNING",
    }
    return await _run(config, count, concurrency)
