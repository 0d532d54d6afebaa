"""Restore actor state: restart the supervision tree, then prove replay matches the snapshots.

An aggregate actor keeps each instance's state in memory, rebuilt on first use from the
stream's latest snapshot plus the events after it. Restarting the supervision tree
drops every cached instance, so each is rebuilt that way; :func:`check_replay` runs the
very same rebuild for every stream and checks it against a full replay, against the
stored snapshot and against the aggregate's invariants (the runtime's one replay check,
:mod:`sagacrew.runtime.replay_check`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from sagacrew.runtime.operations._access import (
    actor_names,
    aggregate_prototypes,
    supervision_plan,
    supervisor_spec,
)
from sagacrew.runtime.replay_check import ReplayCheck, check_streams
from sagacrew.runtime.store import Store
from sagacrew.runtime.system import SagaSystem

__all__ = ["ReplayCheck", "TreeRestart", "check_replay", "restart_supervision_tree"]

logger = logging.getLogger("sagacrew.runtime.operations")


@dataclass(frozen=True)
class TreeRestart:
    """What restarting the supervision tree did.

    ``previous_failure`` is the error that had brought the tree down (``None`` when it
    was running); ``alive`` / ``dead`` name the actors found (not) running afterwards.
    """

    root: str
    previous_failure: str | None
    alive: tuple[str, ...]
    dead: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.dead


async def restart_supervision_tree(system: SagaSystem) -> TreeRestart:
    """Stop the whole supervision tree (reverse start order) and start it again (in order).

    Every actor gets a fresh instance: aggregates rebuild their state from snapshot plus
    later events on first use, gateways re-arm their pending completions from the
    ledger. Clears the actor system's ``failed`` flag first (the new tree starts
    healthy). Sagas must not be mid-step (pause and drain first): a command sent while
    the tree is down becomes a dead letter and a transient step failure.
    """
    plan = supervision_plan(system)
    actors = system.actors
    failure = actors.failure
    previous = None if failure is None else f"{type(failure).__name__}: {failure}"
    logger.info("stopping supervision tree %r", plan.name)
    await actors.stop()
    actors.failure = None
    actors.failed.clear()
    await actors.start(supervisor_spec(system), name=plan.name)
    alive: list[str] = []
    dead: list[str] = []
    for name in actor_names(plan):
        try:
            ref = actors.lookup(name)
        except LookupError:
            dead.append(name)
            continue
        (alive if ref.is_alive() else dead).append(name)
    logger.info(
        "supervision tree %r restarted: %d actors alive, %d not",
        plan.name,
        len(alive),
        len(dead),
        extra={"dead": dead},
    )
    return TreeRestart(plan.name, previous, tuple(alive), tuple(dead))


def check_replay(system: SagaSystem) -> ReplayCheck:
    """Rebuild every aggregate instance as a restarted actor does and check it.

    The runtime's one replay check (:func:`sagacrew.runtime.replay_check.check_streams`)
    over the system's aggregate types: for each stream, the state rebuilt from the latest
    snapshot plus later events must equal a full replay from event 1, the snapshot must
    equal the replay of events ``1..snapshot.version``, and a live instance's state must
    keep its invariants (reported, not part of ``ok``).
    """
    return check_streams(aggregate_prototypes(system))


async def restart_workers(store: Store, timeout_s: float, poll_s: float = 0.1) -> list[str]:
    """Ask every worker to restart its actors (the store's ``actors_epoch``) and wait up to
    ``timeout_s`` until each live one reports it did (at its next heartbeat, once it drives
    no saga); the ids of the live workers that did not."""
    asked = store.request_actor_restart(time.time())
    deadline = time.monotonic() + timeout_s
    while True:
        now = time.time()
        behind = [w.worker_id for w in store.workers() if w.live(now) and w.actors_epoch < asked]
        if not behind or time.monotonic() >= deadline:
            return behind
        await asyncio.sleep(poll_s)
