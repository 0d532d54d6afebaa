"""Helpers for the test suites sagacrew generates (and for your own tests of a system)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from sagacrew.runtime.aggregate import AggregateActor
from sagacrew.runtime.replay_check import ReplayCheck, check_streams, replay_streams
from sagacrew.runtime.saga import SagaResult
from sagacrew.runtime.store import Store
from sagacrew.runtime.system import SagaSystem

StepRow = tuple[Any, ...]
"""``(step_name, phase, status, attempt)`` of one ``saga_step_log`` row."""


def run_one_saga(
    make_system: Callable[[], SagaSystem], saga: str, data: Mapping[str, Any]
) -> tuple[SagaResult, list[StepRow]]:
    """Start a fresh system, run one saga to its end, stop; return the result and the
    saga's step-log rows ``(step_name, phase, status, attempt)`` in order."""

    async def go() -> tuple[SagaResult, list[StepRow]]:
        async with make_system() as system:
            result = await system.run_saga(saga, data)
            rows: list[StepRow] = [
                (row.step_name, row.phase, row.status, row.attempt)
                for row in system.store.step_log(result.saga_id)
            ]
        return result, rows

    return asyncio.run(go())


def compensated_steps(rows: Iterable[StepRow]) -> list[str]:
    """The steps whose compensation succeeded, in the order they were compensated."""
    return [
        name for name, phase, status, _ in rows if (phase, status) == ("compensation", "succeeded")
    ]


def failing_checks(
    store: Store, queries: Sequence[Mapping[str, Any]], *, now: float
) -> dict[str, list[tuple[Any, ...]]]:
    """Each validation query (as in ``blueprint.json``) that finds violations, with the
    first five; ``now`` is bound to its ``now`` parameters."""
    failing: dict[str, list[tuple[Any, ...]]] = {}
    for check in queries:
        rows = store.query(check["violations_sql"], [now for _ in check["params"]])
        if rows:
            failing[check["name"]] = rows[:5]
    return failing


def broken_invariants(
    store: Store, aggregates: Iterable[type[AggregateActor]]
) -> dict[str, list[str]]:
    """Every live instance whose state, rebuilt by replay, breaks an invariant (stream id →
    the invariants' names), and every stream that cannot be replayed (stream id →
    ``["cannot be replayed: <error>"]``).

    Runs the runtime's replay check (:mod:`sagacrew.runtime.replay_check`), which also
    compares each rebuild with its snapshot: see :func:`replay_check` for that part.
    """
    broken: dict[str, list[str]] = {}
    for result in replay_streams(actor_class(store) for actor_class in aggregates):
        if result.error is not None:
            broken[result.stream_id] = [f"cannot be replayed: {result.error}"]
        elif result.broken:
            broken[result.stream_id] = list(result.broken)
    return broken


def replay_check(store: Store, aggregates: Iterable[type[AggregateActor]]) -> ReplayCheck:
    """The runtime's whole replay check over ``store``: rebuilds equal full replays and
    their snapshots, live instances keep their invariants (``ok and keeps_invariants``)."""
    return check_streams(actor_class(store) for actor_class in aggregates)
