"""Rebuilding an aggregate instance's state from its events (event sourcing, read side).

:class:`EventSourcedAggregate` is the half of
:class:`~sagacrew.runtime.aggregate.AggregateActor` that never writes: the state of an
uncreated instance, applying one event (:meth:`~EventSourcedAggregate.evolve`, pure),
bringing stored payloads up to the current event version (upcasters), folding a stream
into state, replaying from the latest snapshot, and the questions asked of the stored
instances (which exist, which are live, whether a snapshot agrees with a full replay).
An event that cannot be applied raises :class:`~sagacrew.runtime.store.CorruptRecord`
naming the stream and the version (see ``_quarantine``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from sagacrew.runtime._changes import empty_value, moved
from sagacrew.runtime._locks import LOCK, with_lock
from sagacrew.runtime._quarantine import (
    APPLY_ERRORS,
    unappliable,
    unknown_event,
    unusable_snapshot,
)
from sagacrew.runtime.store import CorruptRecord, RecordedEvent, Store

if TYPE_CHECKING:
    from sagacrew.runtime.aggregate import CommandHandler, Upcaster

_NOT_STATE = frozenset({"before", "delta", LOCK})
"""Event payload keys that describe a change rather than hold a field's new value."""


class EventSourcedAggregate:
    """State from events for one aggregate type; the base of ``AggregateActor``.

    The class attributes are those a generated subclass sets (see ``AggregateActor``);
    ``_store``, ``_handler_of_event`` (event type → its command's handler) and
    ``_kind_of_event`` (event type → command kind, plus the built-in ``deleted``,
    ``restored`` and ``recreated``) are set by ``AggregateActor.__init__``.
    """

    address: ClassVar[str]
    identity: ClassVar[str]
    fields: ClassVar[Mapping[str, str]]
    initial: ClassVar[Mapping[str, Any]] = {}
    commands: ClassVar[Mapping[str, CommandHandler]]
    upcasters: ClassVar[Mapping[tuple[str, int], Upcaster]] = {}

    _store: Store
    _handler_of_event: dict[str, CommandHandler]
    _kind_of_event: dict[str, str]

    def empty_state(self) -> dict[str, Any]:
        """The state of an instance nobody has created."""
        state = {name: empty_value(kind) for name, kind in self.fields.items()}
        state.update(self.initial)
        return state

    def stream_id(self, aggregate_id: str) -> str:
        """The id of an instance's event stream: ``<context>.<aggregate>:<id>``."""
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
        """The state (lock aside) and existence after one event."""
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
        return [stream[len(prefix) :] for stream in self._store.stream_ids(prefix)]

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

    def _event_version(self, event_type: str) -> int:
        """The version the system emits ``event_type`` at (1 for the built-in events)."""
        handler = self._handler_of_event.get(event_type)
        return 1 if handler is None else handler.event_version
