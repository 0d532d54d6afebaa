"""Verify's redeploy phase: sagas in flight keep their plan across a changed version.

For every saga type, :func:`next_version` derives "version N+1" from the generated
definition (version N) in process, as a spec change would: one read-only step added
after the last step (so after the pivot), and the compensation of the first
compensatable step replaced by one that does the same and tags its result with
:data:`REDEPLOY_MARK`, so the step log shows which plan compensated. Then
:func:`run_redeploy` runs a workload of version N in a child process SIGKILLed midway
(:mod:`.killed_run`, as the crash phase does) on a fresh store, restarts here with
N+1 current and N kept as an earlier version, starts new sagas, waits for every saga
to end, and judges each type from the step log: every saga started before the kill
ran (and compensated with) only version N's steps, every new one version N+1's, each
recorded its version, and each ended terminal. After the restart, a business refusal
at the pivot is injected into some sagas (half the new ones, and half the old ones
that had not attempted the pivot when the process died), so both plans' compensations
run.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sagacrew.agents.generated import GeneratedSystem
from sagacrew.agents.validator import RedeployOutcome
from sagacrew.agents.validator.queries import TERMINAL_STATES
from sagacrew.agents.validator.verification.killed_run import kill_midway
from sagacrew.agents.validator.verification.side_stores import side_store_url
from sagacrew.runtime import FaultInjector, SagaDefinition, SagaStep, SagaSystem, open_store
from sagacrew.runtime.saga import SagaDefinitionError, StepContext, StepFailed
from sagacrew.runtime.store import SagaExecution, StepLogEntry, Store

__all__ = ["REDEPLOY_MARK", "NextVersion", "next_version", "run_redeploy"]

REDEPLOY_MARK = "redeployed_compensation"
"""The key version N+1's changed compensation adds to its result (value: the version)."""

OLD_PREFIX = "crash-"
NEW_PREFIX = "redeploy"
"""Saga ids of the killed workload (``crash-<saga>-<n>``) and of the new sagas."""


@dataclass(frozen=True)
class NextVersion:
    """Version N+1 of a saga: its definition, the added step, the step whose
    compensation changed (``None``: none could be, ``change`` says why)."""

    definition: SagaDefinition
    added_step: str
    changed_compensation: str | None
    change: str


@dataclass(frozen=True)
class _Tagged:
    """A compensation that runs ``inner`` and adds ``{REDEPLOY_MARK: version}`` to its
    result: the same effect, recognisably another compensation in the step log."""

    inner: Any
    version: str

    async def __call__(self, context: StepContext) -> Mapping[str, Any]:
        result = await self.inner(context)
        return {**(result or {}), REDEPLOY_MARK: self.version}

    @property
    def step_references(self) -> Any:
        return getattr(self.inner, "step_references", ())


async def _no_effect(context: StepContext) -> Mapping[str, Any]:
    return {}


def next_version(definition: SagaDefinition) -> NextVersion:
    """Version N+1 of ``definition`` (see the module): a new ``version`` string, one
    read-only step appended (a copy of the saga's last read-only step under a new name,
    or a step without effect when it has none), and the first compensation tagged."""
    version = hashlib.sha256(f"{definition.version}:redeploy".encode()).hexdigest()[:12]
    names = {step.name for step in definition.steps}
    readers = [step for step in definition.steps if step.read_only]
    base = readers[-1].name if readers else ""
    added = f"{base}_again" if readers else "after_redeploy"
    while added in names:
        added += "_again"
    if readers:
        step = replace(readers[-1], name=added, pivot=False, compensation=None, lock=None)
        how = f"a copy of read-only step {base}"
    else:
        step = SagaStep(added, _no_effect, read_only=True)
        how = "a read-only step without effect (the saga has no read-only step to copy)"
    steps = list(definition.steps)
    where = "the pivot" if definition.pivot_index is not None else "the last step"
    changed: str | None = None
    tagged = f"; no compensation changed: no step of {definition.name} has one"
    for index, original in enumerate(steps):
        if original.compensation is not None:
            changed = original.name
            steps[index] = replace(original, compensation=_Tagged(original.compensation, version))
            tagged = f"; compensation of {changed} replaced by one that tags its result"
            break
    steps.append(step)
    change = f"step {added} added after {where} ({how}){tagged}"
    return NextVersion(
        replace(definition, steps=tuple(steps), version=version), added, changed, change
    )


class _RefuseAt:
    """The workload's faults, plus a business refusal at attempt 1 of ``steps[saga]``
    for the sagas ``refused``."""

    def __init__(
        self, inner: FaultInjector, steps: Mapping[str, str], refused: Collection[str]
    ) -> None:
        self.inner = inner
        self.steps = steps
        self.refused = refused

    def before(
        self, saga_id: str, saga_name: str, step_name: str, phase: str, attempt: int
    ) -> None:
        if (
            phase == "forward"
            and attempt == 1
            and saga_id in self.refused
            and self.steps.get(saga_name) == step_name
        ):
            raise StepFailed(f"redeploy check: business refusal of {step_name!r}", False)
        self.inner.before(saga_id, saga_name, step_name, phase, attempt)


def _refusal_step(definition: SagaDefinition) -> str:
    """The step a refusal compensates from: the pivot, or the last step without one."""
    index = definition.pivot_index
    return definition.steps[-1 if index is None else index].name


def run_redeploy(
    system: GeneratedSystem,
    store_url: str,
    *,
    sagas_per_type: int = 8,
    new_per_type: int = 4,
) -> list[RedeployOutcome]:
    """The redeploy phase on a fresh store beside ``store_url`` (``<stem>-redeploy.db``,
    or the PostgreSQL schema ``sagacrew_redeploy``): ``sagas_per_type`` sagas of each
    type on version N, killed after a third ended, then ``new_per_type`` new ones on
    N+1; one outcome per saga type. A phase that cannot run fails every type, saying
    why."""
    current = system.definition.sagas
    nexts = {definition.name: next_version(definition) for definition in current}
    url = side_store_url(store_url, "redeploy")
    total = sagas_per_type * len(current)
    try:
        kill_midway(system, url, sagas_per_type=sagas_per_type, kill_after=max(1, total // 3))
        store = open_store(url)
        try:
            before = {saga.saga_id: saga for saga in store.list_sagas()}
            refused = _refused(store, before.values(), current, new_per_type)
        finally:
            store.close()
        refusal = _restart(system, url, nexts, refused, new_per_type)
    except Exception as error:  # the verdict reports it; verify goes on
        reason = f"the phase could not run: {type(error).__name__}: {error}"
        return [
            RedeployOutcome(
                d.name,
                d.version,
                nexts[d.name].definition.version,
                nexts[d.name].change,
                reason,
                False,
                [reason],
            )
            for d in current
        ]
    store = open_store(url)
    try:
        sagas = store.list_sagas()
        return [
            _judge(store, sagas, definition, nexts[definition.name], before, refusal)
            for definition in current
        ]
    finally:
        store.close()


def _refused(
    store: Store, old: Collection[SagaExecution], current: Sequence[SagaDefinition], new: int
) -> set[str]:
    """Every other new saga, and every other old one in flight that has not attempted
    its refusal step yet (refusing a step that may have acted would lie)."""
    steps = {definition.name: _refusal_step(definition) for definition in current}
    chosen = {f"{NEW_PREFIX}-{d.name}-{i:05d}" for d in current for i in range(0, new, 2)}
    waiting = [
        saga.saga_id
        for saga in sorted(old, key=lambda s: s.saga_id)
        if saga.state not in TERMINAL_STATES
        and all(row.step_name != steps[saga.saga_name] for row in store.step_log(saga.saga_id))
    ]
    return chosen | set(waiting[::2])


def _restart(
    system: GeneratedSystem,
    url: str,
    nexts: Mapping[str, NextVersion],
    refused: Collection[str],
    new_per_type: int,
) -> str | None:
    """Restart with version N+1 current and N earlier; run the new sagas and wait for
    the recovered ones. The restart's refusal (a plan it lacks), or a timeout, as a
    sentence; ``None`` when every saga ended."""
    definition = system.definition
    redeployed = replace(
        definition,
        sagas=tuple(n.definition for n in nexts.values()),
        earlier_sagas=(*definition.earlier_sagas, *definition.sagas),
    )
    seeded = system.workload_faults()
    seeded.bind(definition.sagas)  # as the orchestrator binds it (it cannot see it here)
    faults = _RefuseAt(seeded, {s.name: _refusal_step(s) for s in definition.sagas}, refused)
    timeout_s = 2 * max(s.deadline_s for s in definition.sagas) + 10

    async def restart() -> str | None:
        saga_system: SagaSystem = redeployed(url, faults=faults)
        try:
            try:
                await saga_system.start()
            except SagaDefinitionError as error:
                return f"the restart refused to drive the sagas in flight: {error}"
            orchestrator = saga_system.orchestrator
            assert orchestrator is not None
            waits = [orchestrator.wait(saga_id) for saga_id in saga_system.recovered]
            new = saga_system.run_workload(
                definition.saga_inputs, sagas_per_type=new_per_type, id_prefix=NEW_PREFIX
            )
            try:
                await asyncio.wait_for(asyncio.gather(*waits, new), timeout_s)
            except TimeoutError:
                return f"sagas still running {timeout_s:g} s after the restart"
            return None
        finally:
            await saga_system.stop()
            saga_system.store.close()

    return asyncio.run(restart())


def _judge(
    store: Store,
    sagas: Sequence[SagaExecution],
    old: SagaDefinition,
    nxt: NextVersion,
    before: Mapping[str, SagaExecution],
    refusal: str | None,
) -> RedeployOutcome:
    """Each saga of ``old``'s type against the plan it started on (see the module)."""
    new = nxt.definition
    unmet: list[str] = [refusal] if refusal else []
    changed = next((i for i, s in enumerate(new.steps) if s.name == nxt.changed_compensation), -1)
    counts = {"old": 0, "in_flight": 0, "new": 0, "old_compensated": 0, "new_compensated": 0}
    ended: dict[str, int] = {}
    for saga in sagas:
        if saga.saga_name != old.name:
            continue
        is_old = saga.saga_id in before
        side = "old" if is_old else "new"
        counts[side] += 1
        counts["in_flight"] += is_old and before[saga.saga_id].state not in TERMINAL_STATES
        ended[saga.state] = ended.get(saga.state, 0) + 1
        rows = store.step_log(saga.saga_id)
        if any(r.phase == "compensation" and r.status == "succeeded" for r in rows):
            counts[f"{side}_compensated"] += 1
        problems = _plan_problems(saga, rows, old if is_old else new, changed, not is_old)
        unmet += [f"{saga.saga_id} ({side}): {p}" for p in problems]
    if not counts["new"]:
        unmet.append("no saga started on the new version")
    states = ", ".join(f"{n} {state}" for state, n in sorted(ended.items()))
    observed = (
        f"{counts['old']} started on {old.version} ({counts['in_flight']} in flight at "
        f"the kill), {counts['old_compensated']} compensated; {counts['new']} started on "
        f"{new.version} after the restart, {counts['new_compensated']} compensated; "
        f"ended {states or 'nowhere'}"
    )
    return RedeployOutcome(
        saga=old.name,
        from_version=old.version,
        to_version=new.version,
        change=nxt.change,
        observed=observed,
        passed=not unmet,
        unmet=unmet[:20],
    )


def _plan_problems(
    saga: SagaExecution,
    rows: Sequence[StepLogEntry],
    plan: SagaDefinition,
    changed: int,
    marked: bool,
) -> list[str]:
    """How ``saga`` strayed from ``plan``: its recorded version, a step not the plan's,
    the other version's compensation of step ``changed`` (``marked``: the plan's carries
    :data:`REDEPLOY_MARK`), a completion without every step, or no end."""
    problems: list[str] = []
    if saga.definition_version != plan.version:
        problems.append(f"recorded version {saga.definition_version!r}, not {plan.version!r}")
    if saga.state not in TERMINAL_STATES:
        problems.append(f"did not end: {saga.state}")
    names = [step.name for step in plan.steps]
    strays = [r for r in rows if r.step_index >= len(names) or names[r.step_index] != r.step_name]
    if strays:
        problems.append(f"ran step {strays[0].step_name!r}, not in its plan")
    undone = [r for r in rows if r.phase == "compensation" and r.status == "succeeded"]
    for row in undone:
        if row.step_index == changed and (REDEPLOY_MARK in (row.result or {})) != marked:
            which = "the old" if marked else "the new"
            problems.append(f"compensated {row.step_name} with {which} version's compensation")
    done = [r.step_name for r in rows if r.phase == "forward" and r.status == "succeeded"]
    if saga.state == "completed" and done != names:
        problems.append(f"completed with steps {done}, not {names}")
    return problems
