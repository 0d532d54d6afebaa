"""What a saga's rows cost to write, without any engine: sagacrew's store against the
hand-written loop's rows, on SQLite.

    python bench/bench_sql.py [--sagas N] [--concurrency N] [--repeat N]

The transitions of ``--sagas`` 5-step sagas are built first, as ``bench_engines.py``'s
systems make them, then written in the batches a group commit forms with
``--concurrency`` sagas in flight (each batch: the next transition of every saga of a
cohort), with no event loop and no thread, so the CPU time of the writing thread is all
there is. Per saga, at ``synchronous`` FULL and NORMAL:

- **store**: :meth:`Store.apply_saga_transitions`, the writer thread's whole job (rows
  made from the records, each value checked, the statements run, the commit);
- **its SQL alone**: the same statements with the same rows (captured from the store's
  own transition writer), run with ``sqlite3`` directly;
- **the same without the step log's unique index** (what that index costs: it refuses
  a replayed row and serves a saga's reads);
- **hand-written**: the hand-written loop's rows (one narrow row per transition, keyed
  by saga and sequence), run the same way.

Checkpoints are left out of every figure: the store runs them on a thread of its own, and
the other databases are written with ``wal_autocheckpoint`` off.

The ratios compare the writing alone, with neither system's event loop: the hand-written
loop's rows against the store's whole job, and against its SQL alone.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from _group_commit import INSERT, SCHEMA, Row, started_rows, succeeded_rows
from _saga_bench import STEPS, Service, saga_created, step_succeeded

from sagacrew.runtime.messages import new_ordered_id
from sagacrew.runtime.store import SagaTransition, encoded, open_store
from sagacrew.runtime.store._sql_base import Statement
from sagacrew.runtime.store._sql_transitions import apply_plain

Batches = list[list[SagaTransition]]
UNIQUE_INDEX = "saga_step_log_attempts"


def saga_batches(sagas: int, concurrency: int) -> Batches:
    """The transitions of ``sagas`` sagas, in the batches of cohorts of ``concurrency``."""
    service = Service()
    batches: Batches = []
    for first in range(0, sagas, concurrency):
        cohort = [
            (new_ordered_id(), f"o-{i}") for i in range(first, min(sagas, first + concurrency))
        ]
        data = {saga_id: {"order_id": order_id} for saga_id, order_id in cohort}
        batches.append([saga_created(saga_id, data[saga_id], time.time()) for saga_id, _ in cohort])
        for step in range(STEPS):
            batch = []
            for saga_id, _ in cohort:
                result = encoded(service.reply(f"{saga_id}:{step}:forward:1", f"do{step}"))
                data[saga_id] = {**data[saga_id], **result}
                batch.append(step_succeeded(saga_id, step, data[saga_id], result, time.time()))
            batches.append(batch)
    return batches


def hand_batches(sagas: int, concurrency: int) -> list[list[Row]]:
    """The hand-written loop's rows for ``sagas`` sagas, batched the same way."""
    service = Service()
    batches: list[list[Row]] = []
    for first in range(0, sagas, concurrency):
        cohort = range(first, min(sagas, first + concurrency))
        batches.append([row for i in cohort for row in started_rows(f"s-{i}", f"o-{i}")])
        for step in range(STEPS):
            batches.append(
                [
                    row
                    for i in cohort
                    for row in succeeded_rows(
                        f"s-{i}", step, service.reply(f"s-{i}:step{step}", f"do{step}")
                    )
                ]
            )
    return batches


class _Capture:
    """A cursor that keeps the statements it is given instead of running them."""

    def __init__(self) -> None:
        self.statements: list[Statement] = []

    def run(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return []

    def run_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> int:
        self.statements.append((sql, rows))
        return len(rows)

    def run_batch(self, statements: Sequence[Statement]) -> list[int]:
        self.statements.extend(statements)
        return [len(rows) for _, rows in statements]


def store_statements(batches: Batches) -> list[list[Statement]]:
    """The statements sagacrew's store runs for each batch (its own transition writer)."""
    captured = []
    for batch in batches:
        cursor = _Capture()
        apply_plain(cursor, batch)
        captured.append(cursor.statements)
    return captured


def measure(folder: Path, level: str, sagas: int, concurrency: int) -> dict[str, float]:
    """CPU µs per saga of each way of writing the rows, at ``synchronous`` ``level``."""
    results: dict[str, float] = {}
    batches = saga_batches(sagas, concurrency)
    store = open_store(f"sqlite://{folder / 'store.db'}?synchronous={level}")
    try:
        started = time.thread_time()
        for batch in batches:
            store.apply_saga_transitions(batch)
        results["store"] = (time.thread_time() - started) / sagas * 1e6
    finally:
        store.close()
    statements = store_statements(batches)
    results["its SQL alone"] = _replay(folder / "sql.db", level, statements, sagas)
    unindexed = [[(sql.split(" ON CONFLICT")[0], rows) for sql, rows in s] for s in statements]
    results["without the unique index"] = _replay(
        folder / "unindexed.db", level, unindexed, sagas, drop=UNIQUE_INDEX
    )
    insert = INSERT.format("?")
    rows = [[(insert, batch)] for batch in hand_batches(sagas, concurrency)]
    results["hand-written"] = _replay(folder / "hand.db", level, rows, sagas, schema=SCHEMA)
    return results


def _replay(
    path: Path,
    level: str,
    batches: list[list[Statement]],
    sagas: int,
    *,
    drop: str = "",
    schema: str = "",
) -> float:
    """CPU µs per saga of running ``batches`` on a new database at ``path``: the store's
    schema (less the index ``drop``), or ``schema`` (the hand-written loop's table)."""
    if not schema:
        open_store(f"sqlite://{path}").close()
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute(f"PRAGMA synchronous = {level}")
        conn.execute("PRAGMA wal_autocheckpoint = 0")  # as the store: checkpoints elsewhere
        if schema:
            conn.execute(schema.format("REAL"))
        if drop:
            conn.execute(f"DROP INDEX {drop}")
        started = time.thread_time()
        for statements in batches:
            conn.execute("BEGIN")
            for sql, rows in statements:
                conn.executemany(sql, rows)
            conn.execute("COMMIT")
        return (time.thread_time() - started) / sagas * 1e6
    finally:
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sagas", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if args.sagas < 1 or args.concurrency < 1 or args.repeat < 1:
        parser.error("--sagas, --concurrency and --repeat take a positive number")
    print(
        f"{args.sagas} sagas of {STEPS} steps, batches of {args.concurrency} transitions; "
        f"CPU µs per saga of the writing thread, median of {args.repeat}"
    )
    for level in ("FULL", "NORMAL"):
        runs = []
        for _ in range(args.repeat):
            with tempfile.TemporaryDirectory(prefix="bench-sql-") as tmp:
                runs.append(measure(Path(tmp), level, args.sagas, args.concurrency))
        median = {name: statistics.median(run[name] for run in runs) for name in runs[0]}
        print(f"SQLite WAL, synchronous={level}")
        for name, cpu in median.items():
            print(f"  {name:26} {cpu:8.1f} µs/saga")
        hand = median["hand-written"]
        print(
            f"  ratio hand-written / store: {hand / median['store']:.2f}; "
            f"hand-written / its SQL alone: {hand / median['its SQL alone']:.2f}; "
            f"the unique index: {median['its SQL alone'] - median['without the unique index']:.1f}"
            " µs/saga"
        )


if __name__ == "__main__":
    main()
