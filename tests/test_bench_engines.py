"""bench/bench_engines.py runs end to end at tiny sizes and prints what the README quotes."""

from __future__ import annotations

import asyncio
import importlib.util
import re
from pathlib import Path
from typing import Any

import pytest
from bench_helpers import bench_module
from bench_helpers import run_bench

from sagacrew.runtime.store import open_store


@pytest.mark.slow
def test_bench_engines_prints_each_system_the_ratios_and_a_markdown_table() -> None:
    done = run_bench(
        "bench_engines.py", "--sagas", "20", "--repeat", "1", "--stores", "sqlite-full",
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    out = done.stdout
    assert re.search(r"^  sagacrew +[\d,]+ sagas/s +step cycle p50 .* p99 .* ms$", out, re.M)
    assert re.search(r"^  hand-written +[\d,]+ sagas/s", out, re.M)
    assert re.search(r"^  ratio sagacrew / hand-written: \d+\.\d\d ", out, re.M)
    assert re.search(r"^  store alone +[\d,]+ sagas/s", out, re.M)
    assert re.search(r"^  ratio store alone / hand-written: \d+\.\d\d ", out, re.M)
    assert re.search(r"^  ratio sagacrew / store alone: \d+\.\d\d ", out, re.M)
    assert re.search(r"^  least engine +[\d,]+ sagas/s", out, re.M)
    assert re.search(r"^  ratio least engine / hand-written: \d+\.\d\d ", out, re.M)
    assert re.search(r"^  ratio sagacrew / least engine: \d+\.\d\d ", out, re.M)
    assert "| SQLite WAL, synchronous=FULL | " in out
    if importlib.util.find_spec("dbos") is None:
        assert "DBOS Transact is not installed" in out
    else:
        assert re.search(r"^  ratio sagacrew / DBOS: \d+\.\d ", out, re.M)


def _bench_names() -> tuple[Any, Any]:
    """``_isolated.run_isolated`` and ``_saga_bench.Run``, imported from ``bench/``."""
    return bench_module("_isolated").run_isolated, bench_module("_saga_bench").Run


def test_a_measured_run_leaves_nothing_behind_in_the_benchmark_process() -> None:
    run_isolated, Run = _bench_names()
    left_behind: list[int] = []

    async def runner(sagas: int, concurrency: int) -> Any:
        left_behind.extend(range(sagas))  # what a system would leave alive after its run
        return Run(float(sagas * concurrency), [1.0, 2.0])

    run = run_isolated("test", runner, 3, 2)
    assert run == Run(6.0, [1.0, 2.0])
    assert left_behind == []


def test_a_failed_measured_run_names_its_system_and_its_error() -> None:
    run_isolated, _ = _bench_names()

    async def runner(sagas: int, concurrency: int) -> Any:
        raise RuntimeError("store unreachable")

    with pytest.raises(SystemExit, match=r"^DBOS: its run failed: RuntimeError: store unreachable"):
        run_isolated("DBOS", runner, 3, 2)


def _step_log_shapes(url: str) -> list[Any]:
    """Per saga, in order of its order id: its state, steps completed, data's keys, and
    its step-log rows (step, phase, status, attempt) with how many causation ids they
    carry. Results are left out: they name the saga's id."""
    store = open_store(url)
    try:
        shapes = []
        for saga in store.list_sagas():
            log = store.step_log(saga.saga_id)
            rows = [(row.step_index, row.phase, row.status, row.attempt) for row in log]
            causes = len({row.causation_id for row in log})
            shapes.append((saga.data["order_id"], saga.state, saga.steps_completed,
                           sorted(saga.data), rows, causes))  # fmt: skip
        return sorted(shapes)
    finally:
        store.close()


def test_the_least_engine_writes_the_rows_sagacrew_writes(tmp_path: Path) -> None:
    ours, least = f"sqlite://{tmp_path / 'ours.db'}", f"sqlite://{tmp_path / 'least.db'}"
    asyncio.run(bench_module("_saga_bench").run_sagacrew(ours, 3, 3))
    asyncio.run(bench_module("_least_engine").run_least_engine(least, 3, 3))
    shapes = _step_log_shapes(ours)
    assert [shape[1:3] for shape in shapes] == [("completed", 5)] * 3
    assert _step_log_shapes(least) == shapes
