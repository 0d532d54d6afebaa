"""The replay check: state rebuilt by replay is what was stored, and keeps the invariants.

The one implementation behind the rollback's replay check
(:func:`sagacrew.runtime.operations.check_replay`), the Consistency Validator's replay
checks (``...validator.verification.verify.replay_checks``) and the helper generated tests use
(:func:`sagacrew.runtime.testing.broken_invariants`). For every stream of every aggregate
type it checks, as a restarted actor would rebuild it:

- the state rebuilt from the latest snapshot plus the later events
  (:meth:`~sagacrew.runtime.aggregate.AggregateActor.replay`) equals a full replay from
  event 1;
- the snapshot, if any, equals the replay of events ``1..snapshot.version``
  (:meth:`~sagacrew.runtime.aggregate.AggregateActor.snapshot_agrees`);
- a live instance's rebuilt state breaks none of the aggregate's invariants
  (:meth:`~sagacrew.runtime.aggregate.AggregateActor.broken_invariants`).

A stream that cannot be replayed (a corrupt row or snapshot, an event the aggregate cannot
apply) is reported with its error rather than raised, so one bad stream does not hide the
others. :class:`~sagacrew.runtime.store.StoreUnavailable` is raised: an outage says
nothing about the streams.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from sagacrew.runtime.aggregate import AggregateActor
from sagacrew.runtime.store import StoreError, StoreUnavailable

MAX_LISTED = 20
"""Reports list at most this many offending streams; the counts cover all of them."""

REPLAY_ERRORS: tuple[type[Exception], ...] = (StoreError, LookupError, TypeError, ValueError)
"""What replaying a stream raises when its stored data cannot be replayed."""


@dataclass(frozen=True)
class StreamReplay:
    """What the replay check found for one stream.

    ``live``: the instance is live (:meth:`AggregateActor.is_live`); ``snapshot``: it has a
    snapshot; ``agrees``: the rebuild equals a full replay and the snapshot equals the
    replay up to its version; ``broken``: the invariants the rebuilt state of a live
    instance breaks; ``error``: why the stream cannot be replayed (then nothing else was
    checked).
    """

    stream_id: str
    live: bool = False
    snapshot: bool = False
    agrees: bool = True
    broken: tuple[str, ...] = ()
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Replayable, faithful to its snapshot and keeping every invariant."""
        return self.error is None and self.agrees and not self.broken


def replay_stream(actor: AggregateActor, aggregate_id: str) -> StreamReplay:
    """Check one instance of ``actor``'s aggregate type (see the module docstring)."""
    stream_id = actor.stream_id(aggregate_id)
    try:
        snapshot_agrees = actor.snapshot_agrees(aggregate_id)
        state, _, exists = actor.replay(aggregate_id)
        if snapshot_agrees is None:  # no snapshot: the rebuild must equal a full replay
            agrees = (state, exists) == actor.fold(actor.store.read_stream(stream_id))
        else:
            agrees = snapshot_agrees
        live = actor.is_live(aggregate_id)
        broken = tuple(actor.broken_invariants(state)) if live else ()
    except StoreUnavailable:
        raise
    except REPLAY_ERRORS as error:
        return StreamReplay(stream_id, error=str(error) or type(error).__name__)
    return StreamReplay(
        stream_id,
        live=live,
        snapshot=snapshot_agrees is not None,
        agrees=agrees,
        broken=broken,
    )


def replay_streams(actors: Iterable[AggregateActor]) -> Iterator[StreamReplay]:
    """Check every stream of every actor's aggregate type, by address then stream id."""
    for actor in sorted(actors, key=lambda a: a.address):
        for aggregate_id in actor.aggregate_ids():
            yield replay_stream(actor, aggregate_id)


@dataclass(frozen=True)
class ReplayCheck:
    """The replay check over many streams (:func:`check_streams`).

    ``instances`` aggregate instances (streams) were rebuilt from snapshot plus later
    events; ``snapshots`` of them had a snapshot to compare, ``live`` of them are live.
    ``mismatches`` lists streams whose snapshot differs from the replay of events
    ``1..snapshot.version``, or whose rebuilt state differs from a full replay;
    ``errors`` streams that could not be replayed at all (``stream: error``); ``broken``
    live streams whose rebuilt state breaks an invariant. Each list holds at most
    :data:`MAX_LISTED` entries; the counts cover all.
    """

    instances: int
    snapshots: int
    mismatch_count: int
    error_count: int
    mismatches: tuple[str, ...] = field(default_factory=tuple)
    errors: tuple[str, ...] = field(default_factory=tuple)
    live: int = 0
    broken_count: int = 0
    broken: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        """Every stream replays and agrees with its snapshot (invariants aside: see
        :attr:`keeps_invariants`)."""
        return self.mismatch_count == 0 and self.error_count == 0

    @property
    def keeps_invariants(self) -> bool:
        """No live instance's rebuilt state breaks an invariant."""
        return self.broken_count == 0

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
        if self.broken_count:
            text += (
                f"; {self.broken_count} of {self.live} live instance(s) break an invariant: "
                f"{', '.join(self.broken[:5])}"
            )
        return text


def summarise(results: Iterable[StreamReplay]) -> ReplayCheck:
    """Count and list what :func:`replay_stream` found over many streams."""
    instances = snapshots = live = 0
    mismatches: list[str] = []
    errors: list[str] = []
    broken: list[str] = []
    for result in results:
        instances += 1
        if result.error is not None:
            errors.append(f"{result.stream_id}: {result.error}")
            continue
        snapshots += result.snapshot
        live += result.live
        if not result.agrees:
            mismatches.append(result.stream_id)
        if result.broken:
            broken.append(result.stream_id)
    return ReplayCheck(
        instances=instances,
        snapshots=snapshots,
        mismatch_count=len(mismatches),
        error_count=len(errors),
        mismatches=tuple(mismatches[:MAX_LISTED]),
        errors=tuple(errors[:MAX_LISTED]),
        live=live,
        broken_count=len(broken),
        broken=tuple(broken[:MAX_LISTED]),
    )


def check_streams(actors: Iterable[AggregateActor]) -> ReplayCheck:
    """The replay check over every stream of every actor's aggregate type."""
    return summarise(replay_streams(actors))
