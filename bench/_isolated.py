"""One measured run in a process of its own, forked from the benchmark's: every system
starts from the same settled heap, whatever the runs before it left behind.

In one process, what a system leaves alive after its run (DBOS Transact's registry and
SQLAlchemy's caches, for instance) stays in the heap that the cycle collector's full
collections walk during every later run, of every system: measured on SQLite NORMAL,
sagacrew's step-cycle p99 was 10.2 ms with DBOS's runs among the others and 5.7 ms
without them, its rate the same. A forked child inherits the parent's heap as the parent
settled it, runs one system once, sends back its :class:`Run` and exits, taking its
leftovers with it. Where ``fork`` does not exist (Windows), runs stay in this process.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import traceback
from collections.abc import Callable, Coroutine
from multiprocessing.connection import Connection
from typing import Any

from _saga_bench import Run

Runner = Callable[[int, int], Coroutine[Any, Any, Run]]


def _child(runner: Runner, sagas: int, concurrency: int, reply: Connection) -> None:
    try:
        reply.send(("ok", asyncio.run(runner(sagas, concurrency))))
    except BaseException as exc:  # sent back whole: the parent says what failed
        reply.send(("error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"))
    finally:
        reply.close()


def run_isolated(system: str, runner: Runner, sagas: int, concurrency: int) -> Run:
    """``runner(sagas, concurrency)`` in a forked child (in this process without ``fork``)."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return asyncio.run(runner(sagas, concurrency))
    context = multiprocessing.get_context("fork")
    receive, reply = context.Pipe(duplex=False)
    child = context.Process(target=_child, args=(runner, sagas, concurrency, reply))
    child.start()
    reply.close()
    try:
        kind, value = receive.recv()
    except EOFError:
        child.join()
        raise SystemExit(f"{system}: its run's process died (exit code {child.exitcode})") from None
    child.join()
    if kind != "ok":
        raise SystemExit(f"{system}: its run failed: {value}")
    return value  # type: ignore[no-any-return]
