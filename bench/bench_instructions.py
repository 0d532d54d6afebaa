"""CPU instructions per saga, counted by Valgrind: the saga engine against the hand-written
loop, without the noise of a shared machine.

    python bench/bench_instructions.py [--sagas N] [--synchronous FULL|NORMAL]

``bench_engines.py`` times the systems; on a machine whose speed moves from hour to hour
(the hand-written loop has measured from 5,400 to 11,000 sagas/s here), a change of a few
per cent cannot be seen in its figures. This counts instructions instead (``valgrind
--tool=callgrind``): counts taken back to back agree to within 0.1 %, but counts of the
same code taken an hour apart have differed by up to 4 %, so compare counts taken in one
sitting. Each system runs the workload of ``bench_engines.py`` (5-step sagas, 100 in
flight, SQLite WAL) twice in a process of its own, once with a warm-up only and once with
``--sagas`` more; the difference over ``--sagas`` is its count per saga (start-up and
imports cancel out):

- sagacrew: ``SagaOrchestrator`` over ``open_store(url)``;
- hand-written: the asyncio group-commit loop of ``_group_commit.py``;
- store alone: sagacrew's rows through its group committer and store, with no engine;
- engine alone: sagacrew with a committer that writes nothing (each commit answered on
  the next loop turn): the engine's own instructions.

A CPU-bound run's rate is about inversely proportional to its instructions, so
``hand-written / sagacrew`` is the ratio ``bench_engines.py`` measures, read without
noise; what it cannot see: time spent waiting (a commit's fsync), and costs that grow
with wall time, which Valgrind stretches about 50 times (timers firing: one per
millisecond at the most). Needs Valgrind (``apt install valgrind``); says so and stops
otherwise. About 4 minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
SYSTEMS = ("sagacrew", "hand-written", "store alone", "engine alone")
WARM_UP = 100
CONCURRENCY = 100


def _null_committer() -> Any:
    """A committer that writes nothing: each commit is answered on the next loop turn."""
    from sagacrew.runtime.store import TransitionIds

    class NullCommitter:
        def __init__(self) -> None:
            self._pending: list[asyncio.Future[TransitionIds]] = []

        def apply(self, transition: object) -> asyncio.Future[TransitionIds]:
            loop = asyncio.get_running_loop()
            future: asyncio.Future[TransitionIds] = loop.create_future()
            if not self._pending:
                loop.call_soon(self._answer)
            self._pending.append(future)
            return future

        def _answer(self) -> None:
            pending, self._pending = self._pending, []
            for future in pending:
                future.set_result(TransitionIds())

        def flush(self) -> None:
            return None

    return NullCommitter()


def run_one(system: str, sagas: int, synchronous: str) -> None:
    """Run ``system``: the warm-up, then ``sagas`` more (in this process)."""
    sys.path.insert(0, str(BENCH))
    import _group_commit as handwritten
    from _saga_bench import run_sagacrew, run_store_path

    from sagacrew.runtime.saga import _orchestrator

    root = Path(tempfile.mkdtemp(prefix="bench-instructions-"))
    try:
        for name, count in (("warm", WARM_UP), ("measured", sagas)):
            if count == 0:
                continue
            path = root / f"{name}.db"
            url = f"sqlite://{path}?synchronous={synchronous}"
            if system == "hand-written":
                asyncio.run(handwritten.run_sqlite(path, synchronous, count, CONCURRENCY))
            elif system == "store alone":
                asyncio.run(run_store_path(url, count, CONCURRENCY))
            else:
                if system == "engine alone":
                    _orchestrator.transition_committer = lambda store: _null_committer()
                asyncio.run(run_sagacrew(url, count, CONCURRENCY))
    finally:
        shutil.rmtree(root, ignore_errors=True)


def count(system: str, sagas: int, synchronous: str) -> int:
    """Instructions of a whole process running ``system`` with ``sagas`` measured sagas."""
    command = [
        "valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
        sys.executable, __file__, "--one", system,
        "--sagas", str(sagas), "--synchronous", synchronous,
    ]  # fmt: skip
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    found = re.search(r"Collected : (\d+)", done.stderr)
    if done.returncode != 0 or found is None:
        raise SystemExit(f"{system}: valgrind run failed: {done.stderr.strip()[-400:]}")
    return int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--sagas", type=int, default=1000, help="sagas measured (1000)")
    parser.add_argument("--synchronous", default="NORMAL", choices=("FULL", "NORMAL"))
    parser.add_argument("--one", choices=SYSTEMS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        run_one(args.one, args.sagas, args.synchronous)
        return
    if args.sagas < 1:
        parser.error("--sagas must be at least 1")
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (apt install valgrind): nothing counted")
        return
    per_saga = {}
    for system in SYSTEMS:
        total = count(system, args.sagas, args.synchronous) - count(system, 0, args.synchronous)
        per_saga[system] = total / args.sagas
        print(f"  {system:<13} {per_saga[system]:>12,.0f} instructions per saga")
    hand = per_saga["hand-written"]
    print(f"ratio hand-written / sagacrew: {hand / per_saga['sagacrew']:.3f}")
    print(f"ratio hand-written / store alone: {hand / per_saga['store alone']:.3f}")
    engine = per_saga["engine alone"] / per_saga["sagacrew"]
    print(f"share of sagacrew's instructions in the engine alone: {engine:.2f}")


if __name__ == "__main__":
    main()
