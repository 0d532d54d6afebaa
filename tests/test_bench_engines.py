"""bench/bench_engines.py runs end to end at tiny sizes and prints what the README quotes."""

from __future__ import annotations

import importlib.util
import re
from typing import Any

import pytest
from bench_helpers import bench_module
from bench_helpers import run_bench


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
