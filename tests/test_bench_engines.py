"""bench/bench_engines.py runs end to end at tiny sizes and prints what the README quotes."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench" / "bench_engines.py"


@pytest.mark.slow
def test_bench_engines_prints_each_system_the_ratios_and_a_markdown_table() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--sagas", "20", "--repeat", "1", "--stores", "sqlite-full"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    out = done.stdout
    assert re.search(r"^  sagacrew +[\d,]+ sagas/s +step cycle p50 .* p99 .* ms$", out, re.M)
    assert re.search(r"^  hand-written +[\d,]+ sagas/s", out, re.M)
    assert re.search(r"^  ratio sagacrew / hand-written: \d+\.\d\d ", out, re.M)
    assert re.search(r"^  store alone +[\d,]+ sagas/s", out, re.M)
    assert re.search(r"^  ratio store alone / hand-written: \d+\.\d\d ", out, re.M)
    assert "| SQLite WAL, synchronous=FULL | " in out
    if importlib.util.find_spec("dbos") is None:
        assert "DBOS Transact is not installed" in out
    else:
        assert re.search(r"^  ratio sagacrew / DBOS: \d+\.\d ", out, re.M)
