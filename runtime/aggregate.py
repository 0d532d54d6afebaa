"""Event-sourced aggregate actors: commands in, events persisted, state rebuilt by replay.

One actor serves every instance of an aggregate type (like an Akka shard region): it
keeps each instance's state in memory, rebuilt on first use from the latest snapshot and
the events after it. A command is decided against the current state, its event appended
with the expected version (optimistic concurrency) together with the command's
idempotency key, and only then applied. Appends of different actors made in the same
event-loop turn share one transaction (group commit). A redelivered command (same idempotency key)
returns the stored result and acts no second time.

A command the business rules refuse (``rejects_when`` holds, an invariant would break,
the instance does not exist) is answered with a :class:`Rejection`, not an exception: a
refusal is an answer, not a crash, so the supervisor is not involved. So is a command on
an instance whose stream is corrupt (the instance is quarantined, see ``_quarantine``) or
met while the store is unavailable (the saga pauses).

Rebuilding state from events (replay, upcasting, folding) is in ``_event_sourced``; this
module declares commands and handles them.

Built-in compensations (derived by the Saga Orchestrator agent):
``_delete`` undoes a create, ``_restore`` puts back an update's before-image and
``_recreate`` undoes a delete; they emit ``<context>.<aggregate>.deleted`` / ``restored``
/ ``recreated``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from sagacrew.runtime._changes import event_metadata
from sagacrew.runtime._decide import decide
from sagacrew.runtime._event_sourced import EventSourcedAggregate
from sagacrew.runtime._locks import LockWaits, holder
from sagacrew.runtime._quarantine import Quarantine
from sagacrew.runtime._undo import UNDOES, Decision, Tombstone, undo_key
from sagacrew.runtime.actors import Actor
from sagacrew.runtime.messages import Envelope
from sagacrew.runtime.store import (
    AppendRequest,
    ConcurrencyError,
    DuplicateCommandError,
    NewEvent,
    Store,
    StoreUnavailable,
    event_appender,
)

_STALE_RETRIES = 3
"""How often a command is decided again after its stream moved under it (another process
appended), before the conflict is raised."""

CommandKindName = Literal["create", "update", "delete", "reserve", "release", "query"]
Predicate = Callable[[Mapping[str, Any], Mapping[str, Any]], bool]
"""``(state, params) -> bool``: true when the command must be refused."""

Invariant = Callable[[Mapping[str, Any]], bool]
"""``state -> bool``: true when the rule holds for an instance's state."""
"""``(state, params) -> bool``."""
Upcaster = Callable[[Mapping[str, Any]], dict[str, Any]]
"""A stored payload at one version → the payload at the next version."""


@dataclass(frozen=True)
class CommandHandler:
    """How an aggregate handles one command; the behaviour follows from ``kind``.

    ``params`` are copied from the command's payload into the event, ``sets`` are literal
    assignments, ``delta`` moves numeric fields (field → a number, or a parameter name,
    optionally signed: ``"-amount_cents"``) and is recorded in the event as the signed
    change, ``quantity_field`` is what ``reserve``/``release`` move by ``amount``,
    ``rejects_when`` refuses the command when it returns true.
    """

    kind: CommandKindName
    event: str | None
    params: tuple[str, ...] = ()
    sets: Mapping[str, Any] = field(default_factory=dict)
    delta: Mapping[str, str | int | float] = field(default_factory=dict)
    quantity_field: str | None = None
    rejects_when: Predicate | None = None
    event_version: int = 1

    @property
    def delta_params(self) -> frozenset[str]:
        """Parameters that only say how far ``delta`` moves a field (not state)."""
        return frozenset(
            change.lstrip("+-") for change in self.delta.values() if isinstance(change, str)
        )


@dataclass(frozen=True)
class Rejection:
    """A command refused by the aggregate's rules; a saga step turns it into a business failure."""

    command: str
    reason: str
    conflict: bool = False
    """True when an undo was refused because another writer changed what it would
    overwrite (a lost update prevented); an operator must resolve it."""
    released: asyncio.Event | None = None
    """Refused because another saga holds the instance under a semantic lock and the
    aggregate says ``wait``: set when the lock is released (wait, then send again)."""
    wait_s: float = 0.0
    """How long to wait on ``released`` before giving up."""
    corrupt: bool = False
    """Refused because stored data is corrupt (a quarantined stream): not retriable."""
    unavailable: StoreUnavailable | None = None
    """Not decided: the store could not be reached; ``SagaSystem.dispatch`` raises this
    again so that the saga pauses and is resumed later."""


@dataclass
class _Instance:
    """An instance's state, version and existence, cached in memory between commands."""

    state: dict[str, Any]
    version: int
    exists: bool


class AggregateActor(Actor, EventSourcedAggregate):
    """Base of every generated aggregate actor. Subclasses declare, the base acts.

    Class attributes a subclass sets: ``address`` (``context.aggregate``), ``identity``
    (the id field), ``fields`` (name → type), ``initial`` (state of an uncreated instance),
    ``commands`` (name → :class:`CommandHandler`), ``snapshot_every`` (take a snapshot
    each N events), ``upcasters`` ((event, version) → function to the next version).
    ``invariants`` (name → :data:`Invariant`) are the spec's rules; override
    :meth:`broken_invariants` (calling ``super()``) to add your own. Rebuilding state
    from events (``evolve``, ``fold``, ``replay``, ``upcast``, ``is_live``, ...) is inherited
    from :class:`~sagacrew.runtime._event_sourced.EventSourcedAggregate`; this class
    handles commands.
    """

    snapshot_every: ClassVar[int] = 50
    invariants: ClassVar[Mapping[str, Invariant]] = {}
    when_locked: ClassVar[str] = "refuse"
    lock_timeout_s: ClassVar[float] = 1.0

    def __init__(self, store: Store) -> None:
        self._store = store
        self._appender = event_appender(store)
        self._instances: dict[str, _Instance] = {}
        self._lock_waits = LockWaits()
        self.quarantine = Quarantine(self.address, self.identity)
        """This actor's quarantined instances (streams that cannot be replayed)."""
        verb = self.address + "."
        self._handler_of_event = {h.event: h for h in self.commands.values() if h.event is not None}
        self._kind_of_event = {event: h.kind for event, h in self._handler_of_event.items()}
        self._kind_of_event.setdefault(verb + "deleted", "delete")
        self._kind_of_event[verb + "restored"] = "restore"
        self._kind_of_event[verb + "recreated"] = "recreate"

    @property
    def store(self) -> Store:
        """The store this actor persists to."""
        return self._store

    # -- what a subclass may override ---------------------------------------------------

    def broken_invariants(self, state: Mapping[str, Any]) -> list[str]:
        """Names of the declared ``invariants`` that ``state`` breaks, in their order."""
        return [name for name, holds in self.invariants.items() if not holds(state)]

    # -- state --------------------------------------------------------------------------

    def _instance(self, aggregate_id: str) -> _Instance:
        """The cached instance, replayed from the store on first use."""
        instance = self._instances.get(aggregate_id)
        if instance is None:
            state, version, exists = self.replay(aggregate_id)  # CorruptRecord: quarantined
            instance = self._instances[aggregate_id] = _Instance(state, version, exists)
            self.quarantine.release(aggregate_id)
        return instance

    # -- handling -----------------------------------------------------------------------

    async def receive(self, message: Any) -> Any:
        """Handle a command; a corrupt stream or an unavailable store is answered with a
        :class:`Rejection` (see ``_quarantine``), never raised to the supervisor."""
        if not isinstance(message, Envelope):
            raise TypeError(f"{self.address} takes Envelope commands, got {type(message).__name__}")
        return await self.quarantine.guard(message, self._handle, self._forget)

    def _forget(self, aggregate_id: str) -> None:
        """Drop an instance's cached state (it is replayed on next use)."""
        self._instances.pop(aggregate_id, None)

    async def _handle(self, message: Envelope, stale: int = 0) -> Any:
        key = message.idempotency_key
        if UNDOES in message.payload:
            key = undo_key(str(message.payload[UNDOES]))  # one undo per undone command
        if key is not None:
            done = self._store.processed_result(key)
            if done is not None:
                return done
        if self.identity not in message.payload:
            return Rejection(message.name, f"{message.name} needs {self.identity}")
        aggregate_id = str(message.payload[self.identity])
        instance = self._instance(aggregate_id)
        held_by = holder(instance.state)
        if held_by and held_by != message.correlation_id and UNDOES not in message.payload:
            locked_out = self._locked_out(message.name, aggregate_id, held_by)
            return await self._refused(message, stale, key, aggregate_id, locked_out)
        decision = self._decide(message, aggregate_id, instance)
        if isinstance(decision, Rejection):
            return await self._refused(message, stale, key, aggregate_id, decision)
        if isinstance(decision, Tombstone):
            return await self._cancel(message, stale, aggregate_id, instance, decision)
        event_type, payload, reply = decision
        if event_type is None:
            return reply
        stream = self.stream_id(aggregate_id)
        event = NewEvent(
            event_type=event_type,
            payload=payload,
            correlation_id=message.correlation_id,
            causation_id=message.message_id,
            event_version=self._event_version(event_type),
            metadata=event_metadata(message),
        )
        # Group commit: appends of other actors in the same loop turn share the transaction.
        try:
            version = await self._appender.apply(
                AppendRequest(
                    stream,
                    instance.version,
                    [event],
                    idempotency_key=key,
                    result={**reply, "version": instance.version + 1},
                )
            )
        except DuplicateCommandError as duplicate:
            # Another writer handled the same command first: answer as it did, act not.
            self._instances.pop(aggregate_id, None)
            return dict(duplicate.result)
        except ConcurrencyError:
            # Another process (a worker) appended to the stream since it was read here:
            # read it again and decide the command against what is there now.
            self._instances.pop(aggregate_id, None)
            if stale >= _STALE_RETRIES:
                raise
            return await self._handle(message, stale + 1)
        instance.state, instance.exists = self.evolve(
            instance.state, instance.exists, event_type, payload
        )
        instance.version = version
        if held_by and not holder(instance.state):
            self._lock_waits.released(aggregate_id)
        if version % self.snapshot_every == 0:
            # On the writer thread, as the appends: its commit would stop the event loop.
            # This actor takes no other command meanwhile, so the state stays as it is.
            snapshot = {"state": instance.state, "exists": instance.exists}
            await self._store.writer_thread().submit(
                lambda: self._store.save_snapshot(stream, version, snapshot)
            )
        return {**reply, "version": version}

    async def _cancel(
        self, message: Envelope, stale: int, aggregate_id: str, instance: _Instance,
        undo: Tombstone,
    ) -> Any:  # fmt: skip
        """Record the command ``undo`` names as cancelled, unless it acted meanwhile (then
        the undo is decided again, against what it did)."""
        try:
            await self._appender.apply(
                AppendRequest(
                    self.stream_id(aggregate_id),
                    instance.version,
                    [],
                    idempotency_key=undo.forward_key,
                    result=undo.record,
                )
            )
        except (DuplicateCommandError, ConcurrencyError):
            self._instances.pop(aggregate_id, None)
            if stale >= _STALE_RETRIES:
                raise
            return await self._handle(message, stale + 1)
        return undo.reply

    async def _refused(
        self, message: Envelope, stale: int, key: str | None, aggregate_id: str, refusal: Rejection
    ) -> Any:
        """``refusal``, if it was decided on the stream as stored now. Another process (a
        worker that took the saga over, or one that resumed after a freeze) may have handled
        this very command, or moved the stream, after this one checked the key or read the
        stream: the command is then decided again, and a command handled meanwhile is
        answered as it was."""
        if stale >= _STALE_RETRIES:
            return refusal
        instance = self._instances.get(aggregate_id)
        stored = self._store.stream_version(self.stream_id(aggregate_id))
        moved = instance is None or stored != instance.version
        # (a command that appended nothing, a tombstone, leaves the stream where it was)
        if not moved and (key is None or self._store.processed_result(key) is None):
            return refusal
        self._instances.pop(aggregate_id, None)
        return await self._handle(message, stale + 1)

    def _locked_out(self, command: str, aggregate_id: str, held_by: str) -> Rejection:
        """The answer to another saga's command on an instance ``held_by`` a saga."""
        reason = (
            f"{self.stream_id(aggregate_id)} is pending: saga {held_by} holds it under a "
            f"semantic lock until it ends; {command} refused"
        )
        if self.when_locked != "wait":
            return Rejection(command, reason)
        event = self._lock_waits.event(aggregate_id)
        return Rejection(command, reason, released=event, wait_s=self.lock_timeout_s)

    def _decide(
        self, message: Envelope, aggregate_id: str, instance: _Instance
    ) -> Rejection | Decision | Tombstone:
        return decide(self, message, aggregate_id, instance)
