"""Restore actor state: restart the supervision tree, then prove replay matches the snapshots.

An aggregate actor keeps each instance's state in memory, rebuilt on first use from the
stream's latest snapshot plus the events after it. Restarting the supervision tree
drops every cached instance, so each is rebuilt that way; :func:`check_replay` runs the
very same rebuild for every stream and checks it against a full replay and against the
stored snapshot.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sagacrew.runtime.operations._access import (
    actor_names,
    aggregate_prototypes,
    supervision_plan,
    supervisor_spec,
)
from sagacrew.runtime.store import StoreError
from sagacrew.runtime.system import SagaSystem

logger = logging.getLogger("sagacrew.runtime.operations")

MAX_LISTED = 20
"""Reports list at most this many offending streams; the counts cover all of them."""


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


@dataclass(frozen=True)
class ReplayCheck:
    """The result of :func:`check_replay`.

    ``instances`` aggregate instances (streams) were rebuilt from snapshot plus later
    events; ``snapshots`` of them had a snapshot to compare. ``mismatches`` lists streams
    whose snapshot differs from the replay of events ``1..snapshot.version``, or whose
    rebuilt state differs from a full replay; ``errors`` streams that could not be
    replayed at all (``stream: error``). Both lists hold at most ``MAX_LISTED`` entries;
    the counts cover all.
    """

    instances: int
    snapshots: int
    mismatch_count: int
    error_count: int
    mismatches: tuple[str, ...] = field(default_factory=tuple)
    errors: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return self.mismatch_count == 0 and self.error_count == 0

    def summary(self) -> str:
        """One line, e.g. "12 instances rebuilt, 5 snapshots equal replay"."""
        text = (
            f"{self.instances} instances rebuilt from snapshot + later events; "
            f"{self.snapshots - self.mismatch_count} of {self.snapshots} snapshots equal replay"
        )
        if self.mismatch_count:
            text += f"; {self.mismatch_count} mismatch(es): {', '.join(self.mismatches[:5])}"
        if self.error_count:
            text += f"; {self.error_count} stream(s) cannot be replayed: {self.errors[0]}"
        return text


def check_replay(system: SagaSystem) -> ReplayCheck:
    """Rebuild every aggregate instance as a restarted actor does and check it.

    For each stream of each aggregate type: the state rebuilt from the latest snapshot
    plus later events (``AggregateActor.replay``) must equal a full replay from event 1,
    and the snapshot must equal the replay of events ``1..snapshot.version``.
    """
    store = system.store
    instances = snapshots = 0
    mismatches: list[str] = []
    errors: list[str] = []
    for actor in sorted(aggregate_prototypes(system), key=lambda a: a.address):
        for aggregate_id in actor.aggregate_ids():
            instances += 1
            stream_id = actor.stream_id(aggregate_id)
            try:
                agrees = actor.snapshot_agrees(aggregate_id)
                if agrees is None:  # no snapshot: the rebuild must equal a full replay
                    state, _, exists = actor.replay(aggregate_id)
                    agrees = (state, exists) == actor.fold(store.read_stream(stream_id))
                else:
                    snapshots += 1
            except (StoreError, KeyError, TypeError, ValueError) as error:
                errors.append(f"{stream_id}: {error}")
                continue
            if not agrees:
                mismatches.append(stream_id)
    return ReplayCheck(
        instances=instances,
        snapshots=snapshots,
        mismatch_count=len(mismatches),
        error_count=len(errors),
        mismatches=tuple(mismatches[:MAX_LISTED]),
        errors=tuple(errors[:MAX_LISTED]),
    )
