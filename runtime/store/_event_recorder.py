"""The events role of the store: append, read and snapshot event streams (and repair a
broken row)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, NotRequired, TypedDict, Unpack

from sagacrew.runtime.store._records import (
    AppendRequest,
    NewEvent,
    RecordedEvent,
    Snapshot,
)


class EventRepair(TypedDict):
    """What :meth:`EventRecorder.repair_event` writes over a stored event: the new
    ``payload``; ``metadata`` and ``event_type`` when given (default: kept); ``reason``
    (default ``""``) is kept in the repaired metadata."""

    payload: Mapping[str, Any]
    metadata: NotRequired[Mapping[str, Any] | None]
    event_type: NotRequired[str | None]
    reason: NotRequired[str]


class EventRecorder(ABC):
    """Event streams: appends with optimistic concurrency and idempotency keys, reads, snapshots."""

    def append(
        self,
        stream_id: str,
        expected_version: int,
        events: Sequence[NewEvent],
        *,
        idempotency_key: str | None = None,
        result: Mapping[str, Any] | None = None,
    ) -> int:
        """Append ``events`` to a stream atomically and return the stream's new version.

        The stream must be at ``expected_version`` (0 for a new stream), else
        :class:`ConcurrencyError`; the events get versions ``expected_version + 1 ...``.
        With an ``idempotency_key``, the key and ``result`` (default ``{}``) are stored in
        ``processed_commands`` in the same transaction; a key seen before raises
        :class:`DuplicateCommandError` (carrying the first result) and appends nothing.
        ``events`` may be empty (a command that changed nothing but must be remembered).
        """
        request = AppendRequest(stream_id, expected_version, events, idempotency_key, result)
        return self.append_many([request])[0]

    @abstractmethod
    def append_many(self, requests: Sequence[AppendRequest]) -> list[int]:
        """Several appends at once (group commit); SQL backends use ONE transaction.

        All or nothing: when any append fails (a stale version, a duplicate key), none is
        written and its error is raised; callers may then append one by one to isolate
        it. Returns each stream's new version.
        """

    @abstractmethod
    def processed_result(self, idempotency_key: str) -> dict[str, Any] | None:
        """The result stored with an already processed command, or ``None``."""

    @abstractmethod
    def read_stream(
        self, stream_id: str, from_version: int = 1, to_version: int | None = None
    ) -> list[RecordedEvent]:
        """The stream's events from ``from_version`` on (up to ``to_version`` included,
        default: the last), in version order.

        A broken row (payload or metadata not a JSON object, a version gap) raises
        :class:`StoreError` naming the stream and version: rows are never skipped.
        """

    @abstractmethod
    def stream_version(self, stream_id: str) -> int:
        """The stream's current version; 0 when it has no events."""

    @abstractmethod
    def read_all(self, from_position: int = 0, limit: int = 1000) -> list[RecordedEvent]:
        """Up to ``limit`` events with ``position > from_position``, in global order."""

    @abstractmethod
    def save_snapshot(self, stream_id: str, version: int, state: Mapping[str, Any]) -> None:
        """Store (or replace) the stream's snapshot as of ``version``."""

    @abstractmethod
    def load_snapshot(self, stream_id: str) -> Snapshot | None:
        """The stream's latest snapshot, or ``None``."""

    @abstractmethod
    def repair_event(
        self, stream_id: str, version: int, **repair: Unpack[EventRepair]
    ) -> RecordedEvent:
        """Replace the payload (and ``metadata``, ``event_type`` when given) of the stored
        event at ``version`` of ``stream_id`` in place, and return the repaired event.

        For a row that cannot be read (see ``sagacrew streams repair``, which checks that
        the row is broken first). Events are never deleted or renumbered: the new metadata
        (``metadata``, default the stored one when it is a JSON object, else ``{}``) gets
        ``repaired``: the original event type, payload and metadata texts, the time and
        ``reason``. A snapshot of the stream at or after ``version`` is dropped (replay
        rebuilds it). :class:`StoreError` when the row does not exist.
        """

    @abstractmethod
    def stream_ids(self, prefix: str) -> list[str]:
        """Ids of the streams whose id starts with ``prefix`` (exactly: no wildcards),
        sorted."""

    @abstractmethod
    def raw_events(self, stream_id: str) -> list[tuple[Any, ...]]:
        """The stream's rows as stored, undecoded, in version order: ``(position, version,
        event_type, event_version, payload, metadata, message_id, correlation_id,
        causation_id, recorded_at)`` with payload and metadata as the stored text, so a
        broken row can be shown instead of raised (``sagacrew streams inspect``)."""

    @abstractmethod
    def streams_with_event(self, event_type: str) -> list[str]:
        """Ids of the streams holding at least one event of ``event_type``, sorted."""

    @abstractmethod
    def events_of_correlation(self, correlation_id: str) -> list[RecordedEvent]:
        """Every event of ``correlation_id``, across streams, in global order (position).

        A broken row raises :class:`CorruptRecord` naming its stream and version.
        """
