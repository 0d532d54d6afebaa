"""Verify under contention: the anomalies sagas are known for, measured on purpose.

Sagas have no isolation (ACD without I). The fault-injected workload gives every saga its
own aggregates, so it never meets a lost update or a dirty read. This run does: many
concurrent sagas over a few *shared* aggregates (every aggregate a saga acts on without
creating it is drawn from a pool of ``shared_ids`` instances), with timeouts (lost
replies), late completion events and business refusals injected, so compensations run
while other sagas change the same aggregates. Then, generically and without help from
the spec, it checks:

- ``no_lost_update``: no compensation restored a before-image over a change another saga
  made since (read from the event streams, so it also catches a hand-written
  compensation), and no compensation was refused as a conflict (the runtime prevented a
  lost update, which leaves the saga's effect in place for an operator);
- ``no_orphaned_external_work``: no external call of a compensated saga whose operation
  has an undo is left ``running``, ``done`` or ``completed`` (a timed-out step that did
  happen after all must be undone);
- the spec's system invariants (conservation, references).

Each check names the sagas (or streams) that broke it and the rule.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sagacrew.agents.blueprint import Blueprint
from sagacrew.agents.generated import GeneratedSystem
from sagacrew.agents.validator import CheckResult
from sagacrew.agents.validator.verification.side_stores import side_store_url
from sagacrew.runtime import SagaResult, SagaSystem, SeededFaults, Store
from sagacrew.runtime.system import sample_inputs

__all__ = [
    "ContentionPlan",
    "ContentionRun",
    "contention_checks",
    "contention_store_url",
    "run_contention",
    "shared_identities",
]


@dataclass(frozen=True)
class ContentionPlan:
    """How hard the contention run pushes: how many sagas, how many at once, over how few
    shared instances, and which faults are injected how often."""

    sagas_per_type: int = 40
    """Sagas run of each type."""
    concurrency: int = 50
    """Sagas running at once, at most."""
    shared_ids: int = 3
    """Instances of each shared aggregate the sagas draw their shared identities from
    (fewer: more sagas meet on each one)."""
    lost_reply_rate: float = 0.05
    """The share of commands whose reply is lost although the actor acted, so the step
    times out after the effect."""
    late_completion_rate: float = 0.1
    """The share of external calls whose completion event comes after the step waiting
    for it timed out (the late work is undone once the event comes)."""
    business_failure_rate: float = 0.1
    """The share of sagas refused at one step up to the pivot (so they compensate)."""
    step_failure_rate: float = 0.05
    """The share of forward attempts that fail transiently (and are retried)."""
    seed: int = 7
    """Decides the step failures and refusals (the same seed, the same faults at the same
    steps; lost replies and late completions are decided by idempotency key)."""


@dataclass(frozen=True)
class ContentionRun:
    """What the run did: each saga's result, and the sagas by final state."""

    results: tuple[SagaResult, ...]
    by_state: dict[str, int]


def shared_identities(blueprint: Blueprint) -> dict[str, set[str]]:
    """Per saga, the identity fields of the aggregates it acts on but does not create:
    those are the instances concurrent sagas share (accounts, stock, quotas)."""
    assert blueprint.sagas is not None and blueprint.actors is not None
    identity = {a.name: a.identity for a in blueprint.actors.actors if a.identity}
    shared: dict[str, set[str]] = {}
    for saga in blueprint.sagas.sagas:
        created = {s.target for s in saga.steps if s.kind.value == "create"}
        shared[saga.name] = {
            identity[s.target]
            for s in saga.steps
            if s.target in identity and s.target not in created
        }
    return shared


def contention_inputs(
    types: Mapping[str, str], shared: set[str], saga_name: str, index: int, pool: int
) -> dict[str, Any]:
    """Saga input ``index``: shared identities drawn from ``pool`` instances, the rest
    unique per saga (as in the fault-injected workload)."""
    data = sample_inputs(types, saga_name, index, "contention")
    for name in shared:
        digest = int(hashlib.sha256(f"{saga_name}:{name}:{index}".encode()).hexdigest()[:8], 16)
        data[name] = f"{name}-shared-{digest % pool}"
    return data


CONTENTION_SCHEMA = "sagacrew_contention"
"""The PostgreSQL schema the contention run of ``verify`` uses (reset on every run)."""


def contention_store_url(store_url: str) -> str:
    """Where ``verify`` runs the contention workload, apart from the main run's figures:
    beside a SQLite file (``<name>-contention.db``, removed first), or in the schema
    :data:`CONTENTION_SCHEMA` of the same PostgreSQL database (dropped and re-created)."""
    return side_store_url(store_url, CONTENTION_SCHEMA.removeprefix("sagacrew_"))


def run_contention(system: GeneratedSystem, store_url: str, plan: ContentionPlan) -> ContentionRun:
    """Run the contention workload on ``store_url`` until every saga (and every late
    completion event it provoked) has ended."""
    return asyncio.run(_run(system, store_url, plan))


async def _run(system: GeneratedSystem, store_url: str, plan: ContentionPlan) -> ContentionRun:
    shared = shared_identities(system.blueprint)
    saga_system: SagaSystem = system.definition(
        store_url,
        faults=SeededFaults(
            seed=plan.seed,
            step_failure_rate=plan.step_failure_rate,
            business_failure_rate=plan.business_failure_rate,
            compensation_failure_rate=0.0,
        ),
        lost_reply_rate=plan.lost_reply_rate,
        late_completion_rate=plan.late_completion_rate,
    )
    limit = asyncio.Semaphore(plan.concurrency)

    async def one(saga_name: str, index: int) -> SagaResult:
        data = contention_inputs(
            system.definition.saga_inputs[saga_name],
            shared[saga_name],
            saga_name,
            index,
            plan.shared_ids,
        )
        async with limit:
            return await saga_system.run_saga(
                saga_name, data, saga_id=f"contention-{saga_name}-{index:05d}"
            )

    async with saga_system:
        results = await asyncio.gather(
            *(one(d.name, i) for d in system.definition.sagas for i in range(plan.sagas_per_type))
        )
        await saga_system.late_completions.delivered()
    by_state: dict[str, int] = {}
    for result in results:
        by_state[str(result.state)] = by_state.get(str(result.state), 0) + 1
    return ContentionRun(tuple(results), dict(sorted(by_state.items())))


def contention_checks(system: GeneratedSystem, store: Store) -> list[CheckResult]:
    """The generic isolation checks over ``store`` (see the module docstring)."""
    from sagacrew.agents.validator.verification.isolation_checks import (
        lost_updates,
        orphaned_external_work,
    )

    return [lost_updates(system, store), orphaned_external_work(system, store)]
