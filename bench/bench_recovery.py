"""Recovery after kill -9: time to resume N in-flight sagas and bring them all to an end.

    python bench/bench_recovery.py [--sagas 10000]

A child process starts ``--sagas`` 5-step sagas whose third step never returns, waits
until every one has persisted that step as started, and SIGKILLs itself. A second child
then opens the same SQLite file, calls ``SagaOrchestrator.recover()`` with a service that
answers, and waits until every saga is completed. Printed: the recovery time (until
``recover()`` has every saga in flight again) against the 3 s goal, the time until all
completed, and the ratio against a baseline measured in the same run: reading the same
saga rows with raw sqlite3 (the least any recovery must do).
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from _goal import against_goal

GOAL_S = 3.0

CHILD = textwrap.dedent(
    """
    import asyncio, os, signal, sys, time
    from sagacrew.runtime.saga import SagaDefinition, SagaOrchestrator, SagaState, SagaStep
    from sagacrew.runtime.store import open_store

    mode, db, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    hang = mode == "crash"

    async def quick(ctx):
        return {"ok": ctx.step_name}

    async def third(ctx):
        if hang:
            await asyncio.Event().wait()
        return {"ok": ctx.step_name}

    async def undo(ctx):
        return {"undone": ctx.step_name}

    steps = [SagaStep(name=f"s{i}", action=third if i == 2 else quick, compensation=undo,
                      timeout_s=3600.0) for i in range(5)]
    definition = SagaDefinition(name="bench", steps=steps, deadline_s=3600.0)

    async def dispatch(target, envelope):
        return {}

    async def main():
        store = open_store("sqlite://" + db)
        orchestrator = SagaOrchestrator(store, [definition], dispatch=dispatch)
        if mode == "crash":
            for i in range(n):
                await orchestrator.start("bench", {"i": i}, saga_id=f"saga-{i:06d}")
            while True:
                (started,), = store.query(
                    "SELECT COUNT(*) FROM saga_step_log "
                    "WHERE step_index = 2 AND status = 'started'")
                if started >= n:
                    break
                await asyncio.sleep(0.05)
            os.kill(os.getpid(), signal.SIGKILL)
        begin = time.perf_counter()
        ids = await orchestrator.recover()
        resumed = time.perf_counter() - begin
        results = [await orchestrator.wait(saga_id) for saga_id in ids]
        elapsed = time.perf_counter() - begin
        assert len(results) == n and all(r.state == SagaState.COMPLETED for r in results)
        print(resumed, elapsed)

    asyncio.run(main())
    """
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sagas", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "recovery.db")
        crash = subprocess.run([sys.executable, "-c", CHILD, "crash", db, str(args.sagas)])
        assert crash.returncode == -9, f"the crashing child exited with {crash.returncode}"
        begin = time.perf_counter()
        with sqlite3.connect(db) as connection:
            rows = connection.execute("SELECT * FROM saga_executions").fetchall()
            steps = connection.execute("SELECT * FROM saga_step_log").fetchall()
        baseline = time.perf_counter() - begin
        recover = subprocess.run(
            [sys.executable, "-c", CHILD, "recover", db, str(args.sagas)],
            capture_output=True,
            text=True,
            env={**os.environ},
        )
        assert recover.returncode == 0, recover.stderr[-2000:]
        resumed, elapsed = map(float, recover.stdout.strip().splitlines()[-1].split())
    print(f"in-flight sagas after kill -9: {len(rows)} ({len(steps)} step-log rows)")
    print(f"baseline, raw sqlite3 read of those rows: {baseline:.3f} s")
    print(f"recover(): every saga in flight again:    {resumed:.3f} s")
    print(f"recover() until all completed:            {elapsed:.3f} s")
    print(f"ratio recovery/baseline: {resumed / baseline:.1f}x; ", end="")
    print(against_goal(resumed, GOAL_S))


if __name__ == "__main__":
    main()
