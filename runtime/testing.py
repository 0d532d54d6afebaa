"""Helpers for the test suites sagacrew generates (and for your own tests of a system).

Each helper takes the system's :class:`~sagacrew.runtime.SystemDefinition` (a generated
package's ``build_system``) and a store URL, runs what the test needs on a fresh system
and closes it, so a generated test states only its case and what it expects.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sagacrew.runtime.aggregate import AggregateActor
from sagacrew.runtime.faults import ScriptedFault, ScriptedFaults
from sagacrew.runtime.replay_check import ReplayCheck, check_streams, replay_streams
from sagacrew.runtime.saga import FaultInjector, SagaResult, SagaState
from sagacrew.runtime.store import Store, open_store
from sagacrew.runtime.system import WorkloadReport
from sagacrew.runtime.system_definition import SystemDefinition, workload_faults

StepRow = tuple[Any, ...]
"""``(step_name, phase, status, attempt)`` of one ``saga_step_log`` row."""


def run_one_saga(
    build: SystemDefinition,
    store_url: str,
    saga: str,
    *,
    faults: FaultInjector | None = None,
    duplicate_delivery_rate: float = 0.0,
) -> tuple[SagaResult, list[StepRow]]:
    """Start a fresh system, run one ``saga`` (sample input 0) to its end, stop; return
    the result and the saga's step-log rows ``(step_name, phase, status, attempt)``."""

    async def go() -> tuple[SagaResult, list[StepRow]]:
        system = build(store_url, faults=faults, duplicate_delivery_rate=duplicate_delivery_rate)
        async with system:
            result = await system.run_saga(saga, build.sample_inputs(saga, 0))
            rows: list[StepRow] = [
                (row.step_name, row.phase, row.status, row.attempt)
                for row in system.store.step_log(result.saga_id)
            ]
        return result, rows

    return asyncio.run(go())


def refusal_at(saga: str, step: str) -> ScriptedFaults:
    """Faults that refuse ``step`` of ``saga`` for good (a business refusal)."""
    return ScriptedFaults().add(ScriptedFault(saga, step))


def transient_failures(saga: str, step: str, times: int) -> ScriptedFaults:
    """Faults that fail ``step`` of ``saga`` transiently, ``times`` times."""
    return ScriptedFaults().add(ScriptedFault(saga, step, retriable=True, times=times))


def compensated_steps(rows: Iterable[StepRow]) -> list[str]:
    """The steps whose compensation succeeded, in the order they were compensated."""
    return [
        name for name, phase, status, _ in rows if (phase, status) == ("compensation", "succeeded")
    ]


def succeeded_attempts(rows: Iterable[StepRow], step: str) -> list[int]:
    """The attempt numbers at which ``step`` succeeded forward (one, once it is done)."""
    return [
        attempt
        for name, phase, status, attempt in rows
        if (name, phase, status) == (step, "forward", "succeeded")
    ]


def park_and_redrive(
    build: SystemDefinition, store_url: str, saga: str, *, refused: str, failing: str
) -> tuple[SagaState, list[str], SagaState]:
    """Refuse step ``refused``, fail the compensation of step ``failing`` on every
    attempt, so it is dead-lettered; then end the failure and redrive it.

    Returns the saga's state after the run, the steps whose compensation was parked,
    and the state after the redrive.
    """
    faults = refusal_at(saga, refused).add(
        ScriptedFault(saga, failing, phase="compensation", retriable=True, times=99)
    )

    async def go() -> tuple[SagaState, list[str], SagaState]:
        async with build(store_url, faults=faults) as system:
            result = await system.run_saga(saga, build.sample_inputs(saga, 0))
            assert system.orchestrator is not None
            parked = [
                d for d in system.orchestrator.list_dead_letters() if d.saga_id == result.saga_id
            ]
            faults.clear()
            redriven = [await system.orchestrator.redrive(d.id) for d in parked if d.id]
            after = redriven[-1].state if redriven else result.state
        return result.state, [str(d.step_name) for d in parked], after

    return asyncio.run(go())


def effects_of(store_url: str, saga_id: str) -> tuple[int, int]:
    """How many events and how many external calls carry the saga's correlation id."""
    store = open_store(store_url)
    try:
        saga = store.get_saga(saga_id)
        assert saga is not None, f"no saga {saga_id!r} in the store"
        events = store.events_of_correlation(saga.correlation_id)
        calls = [c for c in store.list_external_calls() if c.correlation_id == saga.correlation_id]
        return len(events), len(calls)
    finally:
        store.close()


def run_faulty_workload(
    build: SystemDefinition,
    store_url: str,
    workload: Mapping[str, Any],
    *,
    sagas_per_type: int,
) -> WorkloadReport:
    """Run ``sagas_per_type`` sagas of every type under the blueprint's workload plan
    (``blueprint["validation"]["workload"]``: seeded step, refusal and compensation
    failures, duplicate deliveries)."""

    async def go() -> WorkloadReport:
        system = build(
            store_url,
            faults=workload_faults(workload),
            duplicate_delivery_rate=float(workload["duplicate_delivery_rate"]),
        )
        async with system:
            return await system.run_workload(build.saga_inputs, sagas_per_type=sagas_per_type)

    return asyncio.run(go())


def failing_checks(
    store: Store | str, queries: Sequence[Mapping[str, Any]], *, now: float | None = None
) -> dict[str, list[tuple[Any, ...]]]:
    """Each validation query (as in ``blueprint.json``) that finds violations, with the
    first five; ``now`` (default: the clock) is bound to their ``now`` parameters.
    ``store`` may be a URL: the store is opened and closed here."""
    db = open_store(store) if isinstance(store, str) else store
    at = time.time() if now is None else now
    failing: dict[str, list[tuple[Any, ...]]] = {}
    try:
        for check in queries:
            rows = db.query(check["violations_sql"], [at for _ in check["params"]])
            if rows:
                failing[check["name"]] = rows[:5]
    finally:
        if db is not store:
            db.close()
    return failing


def broken_invariants(
    store: Store | str, aggregates: Iterable[type[AggregateActor]]
) -> dict[str, list[str]]:
    """Every live instance whose state, rebuilt by replay, breaks an invariant (stream id →
    the invariants' names), and every stream that cannot be replayed (stream id →
    ``["cannot be replayed: <error>"]``). ``store`` may be a URL (opened and closed here).

    Runs the runtime's replay check (:mod:`sagacrew.runtime.replay_check`), which also
    compares each rebuild with its snapshot: see :func:`replay_check` for that part.
    """
    db = open_store(store) if isinstance(store, str) else store
    broken: dict[str, list[str]] = {}
    try:
        for result in replay_streams(actor_class(db) for actor_class in aggregates):
            if result.error is not None:
                broken[result.stream_id] = [f"cannot be replayed: {result.error}"]
            elif result.broken:
                broken[result.stream_id] = list(result.broken)
    finally:
        if db is not store:
            db.close()
    return broken


def replay_check(store: Store, aggregates: Iterable[type[AggregateActor]]) -> ReplayCheck:
    """The runtime's whole replay check over ``store``: rebuilds equal full replays and
    their snapshots, live instances keep their invariants (``ok and keeps_invariants``)."""
    return check_streams(actor_class(store) for actor_class in aggregates)
