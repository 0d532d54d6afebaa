"""The one bounded remediation of each trigger, recording what it found and did.

- SAGA-001 (:func:`transaction_failures`): resume every unfinished saga not being driven
  (``recover``: replay from the step log) once, and wait for the unfinished sagas up to
  ``drain_timeout_s``;
- SAGA-002 (:func:`compensations`): redrive every parked compensation once;
- SAGA-003 (:func:`supervision`): pause new sagas, drain (bounded), restart the
  supervision tree once, resume;
- SAGA-004 (:func:`completion`): nothing to repair; note what is still open.

Each records its findings and actions in a :class:`RemediationLog`; an action that fails
is recorded with ``ok=False`` (never swallowed).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sagacrew.runtime.operations._access import orchestrator_of, supervision_plan, supervisor_of
from sagacrew.runtime.operations._dead_letters import redrive_dead_letter
from sagacrew.runtime.operations._diagnose import (
    actor_failures,
    describe_letter,
    describe_unfinished,
    failed_saga_groups,
    parked_compensations,
    unfinished_sagas,
)
from sagacrew.runtime.operations._errors import OperationsError
from sagacrew.runtime.operations._restore import restart_supervision_tree
from sagacrew.runtime.operations._triggers import TriggerFiring, TriggerId, evaluate_triggers
from sagacrew.runtime.saga import SagaError
from sagacrew.runtime.system import SagaSystem

logger = logging.getLogger("sagacrew.runtime.operations")


class RemediationLog:
    """What a remediation found and did, logged as it happens; ``failed`` once an action failed."""

    def __init__(self, system: str, trigger: TriggerId) -> None:
        self.system = system
        self.trigger = trigger
        self.found: list[str] = []
        self.done: list[str] = []
        self.failed = False

    def find(self, line: str) -> None:
        """Record a finding."""
        self.found.append(line)
        logger.info("%s found: %s", self.trigger, line, extra={"system": self.system})

    def did(self, line: str, *, ok: bool = True) -> None:
        """Record an action; ``ok=False`` marks it (and the remediation) failed."""
        self.done.append(line if ok else f"FAILED: {line}")
        self.failed = self.failed or not ok
        logger.log(
            logging.INFO if ok else logging.ERROR,
            "%s done: %s",
            self.trigger,
            line,
            extra={"system": self.system},
        )


async def transaction_failures(
    system: SagaSystem, log: RemediationLog, drain_timeout_s: float, clock: Callable[[], float]
) -> None:
    """SAGA-001: diagnose failed and unfinished sagas, resume them once, wait (bounded)."""
    orchestrator = orchestrator_of(system, "remediating SAGA-001")
    groups = failed_saga_groups(system.store)
    for group in groups:
        log.find(group.describe())
    stalled = sum(g.count for g in groups if g.state == "stalled")
    if stalled:
        log.find(
            f"{stalled} stalled saga(s) are past their pivot: they cannot be compensated and "
            "are not retried automatically; an operator must finish their step"
        )
    unfinished = unfinished_sagas(system.store)
    now = clock()
    for saga in unfinished[:20]:
        log.find(describe_unfinished(saga, now))
    if len(unfinished) > 20:
        log.find(f"... and {len(unfinished) - 20} more unfinished saga(s)")
    if not groups and not unfinished:
        log.find("no failed or unfinished saga in the tables")
    try:
        resumed = await orchestrator.recover()
    except SagaError as error:
        log.did(f"recovering the unfinished sagas raised: {error}", ok=False)
        return
    if resumed:
        log.did(f"resumed {len(resumed)} unfinished saga(s) from their step log: {resumed[:10]}")
    elif unfinished:
        log.did("recover(): every unfinished saga was already being driven (none to resume)")
    else:
        log.did(
            "recover(): no unfinished saga to resume; the failures are terminal outcomes, "
            "which nothing retries automatically"
        )
    if not unfinished and not resumed:
        return
    left = await orchestrator.drain(drain_timeout_s)
    ids = {saga.saga_id for saga in unfinished} | set(resumed)
    states: dict[str, int] = {}
    for saga_id in sorted(ids):
        row = system.store.get_saga(saga_id)
        if row is not None:
            states[row.state] = states.get(row.state, 0) + 1
    summary = ", ".join(f"{n} {state}" for state, n in sorted(states.items()))
    log.did(
        f"waited up to {drain_timeout_s:g} s for the {len(ids)} unfinished saga(s): {summary}",
        ok=left == 0,
    )


async def compensations(system: SagaSystem, log: RemediationLog, drain_timeout_s: float) -> None:
    """SAGA-002: redrive every parked compensation once."""
    letters = parked_compensations(system.store)
    for letter in letters:
        log.find(describe_letter(letter))
    if not letters:
        log.find("no parked compensation in the dead-letter queue")
    for letter in letters:
        assert letter.id is not None
        try:
            outcome = await redrive_dead_letter(system, letter.id, wait_timeout_s=drain_timeout_s)
        except (OperationsError, SagaError) as error:
            log.did(f"dead letter {letter.id} was not redriven: {error}", ok=False)
            continue
        log.did(f"redrove once: {outcome.summary()}", ok=outcome.succeeded)


async def supervision(
    system: SagaSystem,
    log: RemediationLog,
    firing: TriggerFiring,
    drain_timeout_s: float,
    clock: Callable[[], float],
) -> float:
    """SAGA-003: diagnose, then restart the tree once; returns when the restart happened."""
    actors = system.actors
    figures, policy = firing.figures, firing.policy
    plan = supervision_plan(system)
    failure = actors.failure
    if failure is not None:
        log.find(f"supervision tree {plan.name!r} is down: {type(failure).__name__}: {failure}")
    if figures.actor_restarts:
        log.find(f"{figures.actor_restarts} actor restart(s) since the system started")
    window_s = policy.failure_window_s
    for failures in actor_failures(system.store, since=clock() - window_s):
        supervisor = supervisor_of(plan, failures.actor) or plan.name
        log.find(
            f"actor {failures.actor!r} (supervisor {supervisor!r}) failed "
            f"{failures.count} time(s) in the last {window_s:g} s; latest: "
            f"{failures.latest_error}"
        )
    orchestrator = orchestrator_of(system, "remediating SAGA-003")
    was_paused = orchestrator.paused
    orchestrator.pause()
    left = await orchestrator.drain(drain_timeout_s)
    if left:
        log.did(
            f"paused new sagas; {left} saga(s) still in flight after {drain_timeout_s:g} s "
            "(their steps see a transient failure during the restart and are retried)"
        )
    else:
        log.did("paused new sagas and drained the sagas in flight")
    restart_at = clock()
    try:
        restart = await restart_supervision_tree(system)
    except Exception as error:
        logger.exception("restarting the supervision tree failed")
        log.did(f"restarting supervision tree {plan.name!r} raised {error!r}", ok=False)
    else:
        log.did(
            f"restarted supervision tree {restart.root!r} once: {len(restart.alive)} actor(s) "
            f"running{'' if restart.ok else f', not running: {list(restart.dead)}'}",
            ok=restart.ok,
        )
    if not was_paused:
        orchestrator.resume()
        log.did("resumed new sagas")
    return restart_at


def completion(log: RemediationLog, firing: TriggerFiring) -> None:
    """SAGA-004: nothing to repair; record the figures and the triggers still open."""
    figures = firing.figures
    log.find(firing.reason)
    others = [f for f in evaluate_triggers(figures, firing.policy) if f.trigger != "SAGA-004"]
    for other in others:
        log.find(f"still open: {other.trigger} {other.title}: {other.reason}")
    log.did("wrote the completion report with the figures measured")
