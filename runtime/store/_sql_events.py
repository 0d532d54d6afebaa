"""The SQL store's event tables: ``events``, ``processed_commands`` and ``snapshots``."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sagacrew.runtime.store import _codec as codec
from sagacrew.runtime.store._errors import (
    ConcurrencyError,
    CorruptRecord,
    DuplicateCommandError,
)
from sagacrew.runtime.store._records import AppendRequest, RecordedEvent, Snapshot
from sagacrew.runtime.store._sql_base import Cursor, SqlBase, UniqueViolation

_INSERT_EVENT = (
    "INSERT INTO events (stream_id, version, event_type, event_version, payload, metadata, "
    "message_id, correlation_id, causation_id, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_PROCESSED = (
    "INSERT INTO processed_commands (idempotency_key, stream_id, result, processed_at) "
    "VALUES (?, ?, ?, ?)"
)
_IN_CHUNK = 500
"""Values in one ``IN (...)`` list at most (SQLite limits a statement's parameters)."""


def _in_chunks(
    cursor: Cursor, query: Callable[[int], str], values: Sequence[Any]
) -> list[tuple[Any, ...]]:
    """``query(n)`` (a statement taking ``n`` values) over ``values``, a chunk at a time."""
    rows: list[tuple[Any, ...]] = []
    for start in range(0, len(values), _IN_CHUNK):
        chunk = values[start : start + _IN_CHUNK]
        rows.extend(cursor.run(query(len(chunk)), chunk))
    return rows


def _processed_query(count: int) -> str:
    marks = ", ".join("?" for _ in range(count))
    return (
        f"SELECT idempotency_key, result FROM processed_commands WHERE idempotency_key IN ({marks})"
    )


def _versions_query(count: int) -> str:
    """Each stream's version, one index seek each (a ``GROUP BY`` over an ``IN`` list
    would read every event of the streams)."""
    values = ", ".join("(?)" for _ in range(count))
    return (
        f"WITH ids(stream_id) AS (VALUES {values}) SELECT stream_id, "
        "(SELECT COALESCE(MAX(version), 0) FROM events e WHERE e.stream_id = ids.stream_id) "
        "FROM ids"
    )


def _stored_result(key: str, text: str) -> dict[str, Any]:
    return codec.loads_object(
        text,
        where=f"processed_commands.result of {key!r}",
        repair="restore the command's result from its events",
    )


class SqlEvents(SqlBase):
    """Appends (optimistic concurrency, idempotency keys), stream reads and snapshots."""

    # --- events ---------------------------------------------------------------------

    def _lock_events(self, cursor: Cursor) -> None:
        """Serialise appends so positions commit in order (a no-op where writes are serial)."""

    def append_many(self, requests: Sequence[AppendRequest]) -> list[int]:
        encoded = [self._encode(request) for request in requests]
        now = self._clock()
        try:
            with self._transaction() as cursor:
                self._lock_events(cursor)
                versions, events, processed = self._plan(cursor, requests, encoded, now)
                if events:
                    cursor.run_many(_INSERT_EVENT, events)
                if processed:
                    cursor.run_many(_INSERT_PROCESSED, processed)
                return versions
        except UniqueViolation as exc:
            # A concurrent writer won the race between our checks and our inserts.
            raise self._lost_race(requests) from exc

    def _plan(
        self,
        cursor: Cursor,
        requests: Sequence[AppendRequest],
        encoded: Sequence[tuple[list[tuple[Any, ...]], str]],
        now: float,
    ) -> tuple[list[int], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        """Check every append of a batch, in order, against what the store holds (read in
        two queries, not two per append) and the appends before it; the streams' new
        versions, and the rows to insert: events, then processed commands. Raises the
        first append's :class:`DuplicateCommandError` or :class:`ConcurrencyError`."""
        keys = [r.idempotency_key for r in requests if r.idempotency_key is not None]
        results = _in_chunks(cursor, _processed_query, keys)
        seen = {str(key): str(result) for key, result in results}
        streams = sorted({request.stream_id for request in requests})
        found = _in_chunks(cursor, _versions_query, streams)
        current = {str(stream): int(version) for stream, version in found}
        versions: list[int] = []
        events: list[tuple[Any, ...]] = []
        processed: list[tuple[Any, ...]] = []
        for request, (rows, result_json) in zip(requests, encoded, strict=True):
            key, stream_id = request.idempotency_key, request.stream_id
            if key is not None and key in seen:
                raise DuplicateCommandError(key, stream_id, _stored_result(key, seen[key]))
            version = current.get(stream_id, 0)
            if version != request.expected_version:
                raise ConcurrencyError(stream_id, request.expected_version, version)
            events.extend((*row, now) for row in rows)
            current[stream_id] = version + len(rows)
            if key is not None:
                processed.append((key, stream_id, result_json, now))
                seen[key] = result_json
            versions.append(current[stream_id])
        return versions, events, processed

    def _lost_race(self, requests: Sequence[AppendRequest]) -> Exception:
        """The error of the first append that the store, as it is now, refuses."""
        for request in requests:
            key, stream_id = request.idempotency_key, request.stream_id
            if key is not None:
                stored = self.processed_result(key)
                if stored is not None:
                    return DuplicateCommandError(key, stream_id, stored)
            version = self.stream_version(stream_id)
            if version != request.expected_version:
                return ConcurrencyError(stream_id, request.expected_version, version)
        first = requests[0]
        return ConcurrencyError(
            first.stream_id, first.expected_version, self.stream_version(first.stream_id)
        )

    def _encode(self, request: AppendRequest) -> tuple[list[tuple[Any, ...]], str]:
        """The rows and the result of one append, JSON-encoded before the transaction."""
        rows = [
            (
                request.stream_id,
                request.expected_version + offset,
                event.event_type,
                event.event_version,
                codec.dumps(event.payload, what=f"payload of {event.event_type}"),
                codec.dumps(event.metadata, what=f"metadata of {event.event_type}"),
                event.message_id,
                event.correlation_id,
                event.causation_id,
            )
            for offset, event in enumerate(request.events, start=1)
        ]
        return rows, codec.dumps(request.result or {}, what="command result")

    def processed_result(self, idempotency_key: str) -> dict[str, Any] | None:
        found = self._read(
            "SELECT result FROM processed_commands WHERE idempotency_key = ?", (idempotency_key,)
        )
        if not found:
            return None
        return _stored_result(idempotency_key, found[0][0])

    def read_stream(
        self, stream_id: str, from_version: int = 1, to_version: int | None = None
    ) -> list[RecordedEvent]:
        upto = "" if to_version is None else " AND version <= ?"
        rows = self._read(
            f"SELECT {codec.EVENT_COLUMNS} FROM events WHERE stream_id = ? AND version >= ?"
            f"{upto} ORDER BY version",
            (stream_id, from_version)
            if to_version is None
            else (stream_id, from_version, to_version),
        )
        events: list[RecordedEvent] = []
        expected = max(from_version, 1)
        for row in rows:
            version = int(row[2])
            if version != expected:
                raise CorruptRecord(
                    f"events of stream {stream_id!r} have a version gap: version {expected} "
                    f"is missing (the next stored version is {version})",
                    fix=(
                        f"restore event {expected} of stream {stream_id!r} from a backup "
                        f"(`sagacrew streams inspect DIR {stream_id}` lists the rows); never "
                        "delete or renumber events"
                    ),
                    stream_id=stream_id,
                    version=expected,
                )
            events.append(codec.event_from_row(row))
            expected += 1
        return events

    def stream_version(self, stream_id: str) -> int:
        (version,) = self._read(
            "SELECT COALESCE(MAX(version), 0) FROM events WHERE stream_id = ?", (stream_id,)
        )[0]
        return int(version)

    def read_all(self, from_position: int = 0, limit: int = 1000) -> list[RecordedEvent]:
        rows = self._read(
            f"SELECT {codec.EVENT_COLUMNS} FROM events WHERE position > ? "
            "ORDER BY position LIMIT ?",
            (from_position, limit),
        )
        return [codec.event_from_row(row) for row in rows]

    def save_snapshot(self, stream_id: str, version: int, state: Mapping[str, Any]) -> None:
        state_json = codec.dumps(state, what=f"snapshot state of {stream_id!r}")
        with self._transaction() as cursor:
            cursor.run(
                "INSERT INTO snapshots (stream_id, version, state, taken_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (stream_id) DO UPDATE SET version = excluded.version, "
                "state = excluded.state, taken_at = excluded.taken_at",
                (stream_id, version, state_json, self._clock()),
            )

    def load_snapshot(self, stream_id: str) -> Snapshot | None:
        rows = self._read(
            "SELECT version, state, taken_at FROM snapshots WHERE stream_id = ?", (stream_id,)
        )
        if not rows:
            return None
        version, state, taken_at = rows[0]
        return Snapshot(
            stream_id=stream_id,
            version=int(version),
            state=codec.loads_object(
                state,
                where=f"snapshot of stream {stream_id!r}",
                repair="delete the snapshot row; it is rebuilt by replaying the stream",
            ),
            taken_at=float(taken_at),
        )

    def stream_ids(self, prefix: str) -> list[str]:
        rows = self._read(
            "SELECT DISTINCT stream_id FROM events WHERE stream_id LIKE ? ORDER BY stream_id",
            (prefix + "%",),
        )
        # LIKE reads "_" and "%" in the prefix as wildcards: keep exact prefixes only
        return [str(s) for (s,) in rows if str(s).startswith(prefix)]

    def raw_events(self, stream_id: str) -> list[tuple[Any, ...]]:
        return self._read(
            "SELECT position, version, event_type, event_version, payload, metadata, "
            "message_id, correlation_id, causation_id, recorded_at "
            "FROM events WHERE stream_id = ? ORDER BY version",
            (stream_id,),
        )

    def streams_with_event(self, event_type: str) -> list[str]:
        rows = self._read(
            "SELECT DISTINCT stream_id FROM events WHERE event_type = ? ORDER BY stream_id",
            (event_type,),
        )
        return [str(stream_id) for (stream_id,) in rows]

    def events_of_correlation(self, correlation_id: str) -> list[RecordedEvent]:
        rows = self._read(
            f"SELECT {codec.EVENT_COLUMNS} FROM events WHERE correlation_id = ? ORDER BY position",
            (correlation_id,),
        )
        return [codec.event_from_row(row) for row in rows]
