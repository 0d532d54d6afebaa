"""The SQL store's event tables: ``events``, ``processed_commands`` and ``snapshots``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sagacrew.runtime.store import _codec as codec
from sagacrew.runtime.store._errors import (
    ConcurrencyError,
    CorruptRecord,
    DuplicateCommandError,
)
from sagacrew.runtime.store._records import AppendRequest, RecordedEvent, Snapshot
from sagacrew.runtime.store._sql_base import Cursor, SqlBase, UniqueViolation


class SqlEvents(SqlBase):
    """Appends (optimistic concurrency, idempotency keys), stream reads and snapshots."""

    # --- events ---------------------------------------------------------------------

    def _lock_events(self, cursor: Cursor) -> None:
        """Serialise appends so positions commit in order (a no-op where writes are serial)."""

    def append_many(self, requests: Sequence[AppendRequest]) -> list[int]:
        encoded = [self._encode(request) for request in requests]
        now = self._clock()
        current: AppendRequest | None = None
        try:
            with self._transaction() as cursor:
                self._lock_events(cursor)
                versions = []
                for request, (rows, result_json) in zip(requests, encoded, strict=True):
                    current = request
                    versions.append(self._append_in(cursor, request, rows, result_json, now))
                return versions
        except UniqueViolation as exc:
            # A concurrent writer won the race between our check and our insert.
            assert current is not None
            key, stream_id = current.idempotency_key, current.stream_id
            if key is not None:
                stored = self.processed_result(key)
                if stored is not None:
                    raise DuplicateCommandError(key, stream_id, stored) from exc
            raise ConcurrencyError(
                stream_id, current.expected_version, self.stream_version(stream_id)
            ) from exc

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

    def _append_in(
        self,
        cursor: Cursor,
        request: AppendRequest,
        rows: list[tuple[Any, ...]],
        result_json: str,
        now: float,
    ) -> int:
        """One append inside an open transaction: version check, events, idempotency key."""
        stream_id, expected_version = request.stream_id, request.expected_version
        if request.idempotency_key is not None:
            self._refuse_duplicate(cursor, request.idempotency_key, stream_id)
        (found,) = cursor.run(
            "SELECT COALESCE(MAX(version), 0) FROM events WHERE stream_id = ?",
            (stream_id,),
        )[0]
        if int(found) != expected_version:
            raise ConcurrencyError(stream_id, expected_version, int(found))
        for row in rows:
            cursor.run(
                "INSERT INTO events (stream_id, version, event_type, event_version, "
                "payload, metadata, message_id, correlation_id, causation_id, "
                "recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*row, now),
            )
        if request.idempotency_key is not None:
            cursor.run(
                "INSERT INTO processed_commands (idempotency_key, stream_id, result, "
                "processed_at) VALUES (?, ?, ?, ?)",
                (request.idempotency_key, stream_id, result_json, now),
            )
        return expected_version + len(rows)

    def _refuse_duplicate(self, cursor: Cursor, key: str, stream_id: str) -> None:
        found = cursor.run(
            "SELECT result FROM processed_commands WHERE idempotency_key = ?", (key,)
        )
        if found:
            stored = codec.loads_object(
                found[0][0],
                where=f"processed_commands.result of {key!r}",
                repair="restore the command's result from its events",
            )
            raise DuplicateCommandError(key, stream_id, stored)

    def processed_result(self, idempotency_key: str) -> dict[str, Any] | None:
        found = self._read(
            "SELECT result FROM processed_commands WHERE idempotency_key = ?", (idempotency_key,)
        )
        if not found:
            return None
        return codec.loads_object(
            found[0][0],
            where=f"processed_commands.result of {idempotency_key!r}",
            repair="restore the command's result from its events",
        )

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
