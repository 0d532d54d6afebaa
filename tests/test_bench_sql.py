"""bench/bench_sql.py writes the same saga rows each way and prints what the README quotes."""

from __future__ import annotations

import re

import pytest
from bench_helpers import bench_module
from bench_helpers import run_bench


@pytest.mark.slow
def test_bench_sql_prints_each_way_of_writing_and_the_ratios() -> None:
    done = run_bench(
        "bench_sql.py", "--sagas", "30", "--concurrency", "10", "--repeat", "1", timeout=120
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    out = done.stdout
    for level in ("FULL", "NORMAL"):
        assert f"SQLite WAL, synchronous={level}" in out
    for name in ("store", "its SQL alone", "without the unique index", "hand-written"):
        assert len(re.findall(rf"^  {name} +\d+\.\d µs/saga$", out, re.M)) == 2, name
    assert len(re.findall(r"^  ratio hand-written / store: \d+\.\d\d; ", out, re.M)) == 2


def test_bench_sql_refuses_a_count_that_is_not_positive() -> None:
    done = run_bench("bench_sql.py", "--sagas", "0", timeout=60)
    assert done.returncode == 2
    assert "--sagas, --concurrency and --repeat take a positive number" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_sql_replayed_is_the_rows_the_store_writes() -> None:
    bench_sql = bench_module("bench_sql")
    batches = bench_sql.saga_batches(4, 2)
    statements = bench_sql.store_statements(batches)
    rows_per_saga = sum(len(rows) for batch in statements for _, rows in batch) / 4
    # its row created, 10 step-log rows (5 started, 5 succeeded), its row completed
    assert rows_per_saga == 12
    hand = sum(len(batch) for batch in bench_sql.hand_batches(4, 2)) / 4
    assert hand == 12
