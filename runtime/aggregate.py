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

Built-in compensations (derived by the Saga Orchestrator agent):
``_delete`` undoes a create, ``_restore`` puts back an update's before-image and
``_recreate`` undoes a delete; they emit ``<context>.<aggregate>.deleted`` / ``restored``
/ ``recreated``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from sagacrew.runtime._changes import empty_value, event_metadata, moved
from sagacrew.runtime._decide import decide
from sagacrew.runtime._locks import LOCK, LockWaits, holder, with_lock
from sagacrew.runtime._quarantine import (
    APPLY_ERRORS,
    Quarantine,
    unappliable,
    unknown_event,
    unusable_snapshot,
)
from sagacrew.runtime._undo import UNDOES, Decision, undo_key
from sagacrew.runtime.actors import Actor
from sagacrew.runtime.messages import Envelope
from sagacrew.runtime.store import (
    AppendRequest,
    CorruptRecord,
    DuplicateCommandError,
    NewEvent,
    RecordedEvent,
    Store,
    StoreUnavailable,
    event_appender,
)

CommandKindName = Literal["create", "update", "delete", "reserve", "release", "query"]
Predicate = Callable[[Mapping[str, Any], Mapping[str, Any]], bool]
"""``(state, params) -> bool``."""
Upcaster = Callable[[Mapping[str, Any]], dict[str, Any]]
"""A stored payload at one version → the payload at the next version."""

_NOT_STATE = frozenset({"before", "delta", LOCK})
"""Event payload keys that describe a change rather than hold a field's new value."""


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
    state: dict[str, Any]
    version: int
    exists: bool


class AggregateActor(Actor):
    """Base of every generated aggregate actor. Subclasses declare, the base acts.

    Class attributes a subclass sets: ``address`` (``context.aggregate``), ``identity``
    (the id field), ``fields`` (name → type), ``initial`` (state of an uncreated instance),
    ``commands`` (name → :class:`CommandHandler`), ``snapshot_every`` (take a snapshot
    each N events), ``upcasters`` ((event, version) → function to the next version).
    Override :meth:`broken_invariants` to check the spec's invariants.
    """

    address: ClassVar[str]
    identity: ClassVar[str]
    fields: ClassVar[Mapping[str, str]]
    initial: ClassVar[Mapping[str, Any]] = {}
    commands: ClassVar[Mapping[str, CommandHandler]]
    snapshot_every: ClassVar[int] = 50
    when_locked: ClassVar[str] = "refuse"
    lock_timeout_s: ClassVar[float] = 1.0
    upcasters: ClassVar[Mapping[tuple[str, int], Upcaster]] = {}

    def __init__(self, store: Store) -> None:
        self._store = store
        self._appender = event_appender(store)
        self._instances: dict[str, _Instance] = {}
        self._lock_waits = LockWaits()
        self.quarantine = Quarantine(self.address, self.identity)
        """This actor's quarantined instances (streams that cannot be replayed)."""
        verb = self.address + "."
        self._handler_of_event: dict[str, CommandHandler] = {
            h.event: h for h in self.commands.values() if h.event is not None
        }
        self._kind_of_event: dict[str, str] = {
            event: h.kind for event, h in self._handler_of_event.items()
        }
        self._kind_of_event.setdefault(verb + "deleted", "delete")
        self._kind_of_event[verb + "restored"] = "restore"
        self._kind_of_event[verb + "recreated"] = "recreate"

    @property
    def store(self) -> Store:
        """The store this actor persists to."""
        return self._store

    # -- what a subclass may override ---------------------------------------------------

    def broken_invariants(self, state: Mapping[str, Any]) -> list[str]:
        """Names of the invariants ``state`` breaks (none by default)."""
        return []

    # -- state --------------------------------------------------------------------------

    def empty_state(self) -> dict[str, Any]:
        """The state of an instance nobody has created."""
        state = {name: empty_value(kind) for name, kind in self.fields.items()}
        state.update(self.initial)
        return state

    def stream_id(self, aggregate_id: str) -> str:
        return f"{self.address}:{aggregate_id}"

    def evolve(
        self, state: dict[str, Any], exists: bool, event_type: str, payload: Mapping[str, Any]
    ) -> tuple[dict[str, Any], bool]:
        """Apply one event: pure, used for live updates and replay alike."""
        new, exists = self._changed(state, exists, event_type, payload)
        return with_lock(dict(new), payload), exists

    def _changed(
        self, state: dict[str, Any], exists: bool, event_type: str, payload: Mapping[str, Any]
    ) -> tuple[dict[str, Any], bool]:
        kind = self._kind_of_event.get(event_type)
        if kind is None:  # stored events are checked in fold, which names stream and version
            raise CorruptRecord(
                f"event type {event_type!r} is not one {self.address} emits",
                fix="add the event to the spec (and an upcaster for a renamed event) and "
                "regenerate",
            )
        handler = self._handler_of_event.get(event_type)
        hidden = _NOT_STATE | (handler.delta_params if handler is not None else frozenset())
        changes = {k: v for k, v in payload.items() if k not in hidden}
        delta: Mapping[str, Any] = payload.get("delta") or {}
        if kind == "create":
            return {**self.empty_state(), **changes}, True
        if kind == "delete":
            return state, False
        if kind in ("restore", "recreate"):
            return moved({**state, **payload.get("before", {})}, delta), True
        if kind in ("reserve", "release"):
            assert handler is not None and handler.quantity_field is not None
            sign = -1 if kind == "reserve" else 1
            new = {**state, **{k: v for k, v in changes.items() if k != "amount"}}
            new[handler.quantity_field] = state[handler.quantity_field] + sign * payload["amount"]
            return new, exists
        return moved({**state, **changes}, delta), exists

    def replay(self, aggregate_id: str) -> tuple[dict[str, Any], int, bool]:
        """State, version and existence from the latest snapshot plus the later events."""
        stream = self.stream_id(aggregate_id)
        state, version, exists = self.empty_state(), 0, False
        try:
            snapshot = self._store.load_snapshot(stream)
            if snapshot is not None:
                state = dict(snapshot.state["state"])
                exists = bool(snapshot.state["exists"])
                version = snapshot.version
        except (CorruptRecord, LookupError, TypeError, ValueError) as error:
            unusable_snapshot(stream, error)
            state, version, exists = self.empty_state(), 0, False
        events = self._store.read_stream(stream, from_version=version + 1)
        state, exists = self.fold(events, state, exists)
        return state, (events[-1].version if events else version), exists

    def fold(
        self,
        events: Iterable[RecordedEvent],
        state: dict[str, Any] | None = None,
        exists: bool = False,
    ) -> tuple[dict[str, Any], bool]:
        """Apply stored ``events`` in order (upcast to their current versions) to ``state``
        (default: the empty state of an uncreated instance).

        An event that cannot be applied (a type this aggregate does not emit, no upcaster,
        a payload its rules cannot read) raises :class:`CorruptRecord` naming the stream
        and the version."""
        state = self.empty_state() if state is None else state
        for event in events:
            if event.event_type not in self._kind_of_event:
                raise unknown_event(event, self.address)
            try:
                payload = self.upcast(
                    event.event_type,
                    event.event_version,
                    event.payload,
                    event.stream_id,
                    at=event.version,
                )
                state, exists = self.evolve(state, exists, event.event_type, payload)
            except APPLY_ERRORS as error:
                raise unappliable(event, error) from error
        return state, exists

    def aggregate_ids(self) -> list[str]:
        """Ids of every instance of this aggregate type that has a stream."""
        prefix = self.address + ":"
        rows = self._store.query(
            "SELECT DISTINCT stream_id FROM events WHERE stream_id LIKE ? ORDER BY stream_id",
            (prefix + "%",),
        )
        # LIKE reads "_" in the address as a wildcard: keep exact prefixes only
        return [str(s)[len(prefix) :] for (s,) in rows if str(s).startswith(prefix)]

    def live_instances(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """``(id, state)`` of every live instance (see :meth:`is_live`), rebuilt by replay."""
        for aggregate_id in self.aggregate_ids():
            state, live = self._liveness(aggregate_id)
            if live:
                yield aggregate_id, state

    def is_live(self, aggregate_id: str) -> bool:
        """True for an instance created and not deleted, or never created but acted on
        (it lives in its ``initial`` state, e.g. an account that commands only update)."""
        return self._liveness(aggregate_id)[1]

    def _liveness(self, aggregate_id: str) -> tuple[dict[str, Any], bool]:
        """State and liveness of an instance, from one read of its stream."""
        events = self._store.read_stream(self.stream_id(aggregate_id))
        state, exists = self.fold(events)
        lifecycle = ("create", "delete", "recreate")
        if any(self._kind_of_event.get(e.event_type) in lifecycle for e in events):
            return state, exists
        return state, bool(events)

    def snapshot_agrees(self, aggregate_id: str) -> bool | None:
        """``None`` without a snapshot; else whether the snapshot equals the replay of the
        events up to its version, and the rebuild from it equals a full replay."""
        stream = self.stream_id(aggregate_id)
        snapshot = self._store.load_snapshot(stream)
        if snapshot is None:
            return None
        events = self._store.read_stream(stream)
        upto = [event for event in events if event.version <= snapshot.version]
        at_snapshot, existed = self.fold(upto)
        state, _, exists = self.replay(aggregate_id)
        return {"state": at_snapshot, "exists": existed} == snapshot.state and (
            state,
            exists,
        ) == self.fold(events)

    def upcast(
        self,
        event_type: str,
        version: int,
        payload: Mapping[str, Any],
        stream_id: str = "",
        *,
        at: int | None = None,
    ) -> Mapping[str, Any]:
        """``payload`` stored at ``version``, brought up to the event's current version
        (``stream_id`` and ``at``, the event's stream version, locate an error)."""
        current = self._event_version(event_type)
        while version < current:
            step = self.upcasters.get((event_type, version))
            if step is None:
                where = stream_id if at is None else f"{stream_id} version {at}"
                raise CorruptRecord(
                    f"{where}: {event_type} v{version} is stored but the system emits "
                    f"v{current} and has no upcaster from v{version}",
                    fix=f"add an event_history entry with from_version: {version} to the "
                    "command in the spec and regenerate",
                    stream_id=stream_id or None,
                    version=at,
                )
            payload = step(payload)
            version += 1
        return payload

    def _instance(self, aggregate_id: str) -> _Instance:
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
        self._instances.pop(aggregate_id, None)

    async def _handle(self, message: Envelope) -> Any:
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
            return self._locked_out(message.name, aggregate_id, held_by)
        decision = self._decide(message, aggregate_id, instance)
        if isinstance(decision, Rejection):
            return decision
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
        instance.state, instance.exists = self.evolve(
            instance.state, instance.exists, event_type, payload
        )
        instance.version = version
        if held_by and not holder(instance.state):
            self._lock_waits.released(aggregate_id)
        if version % self.snapshot_every == 0:
            self._store.save_snapshot(
                stream, version, {"state": instance.state, "exists": instance.exists}
            )
        return {**reply, "version": version}

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

    def _event_version(self, event_type: str) -> int:
        handler = self._handler_of_event.get(event_type)
        return 1 if handler is None else handler.event_version

    def _decide(
        self, message: Envelope, aggregate_id: str, instance: _Instance
    ) -> Rejection | Decision:
        return decide(self, message, aggregate_id, instance)
