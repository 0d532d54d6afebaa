"""The SQL store's repair of one broken ``events`` row (``sagacrew streams repair``).

A repair replaces the payload (and optionally the metadata and the event type) of exactly
one stored event, in place: events are never deleted or renumbered. What was there is
kept in the new metadata under ``repaired`` (the original texts, the time, the reason),
so the history of the stream stays auditable. The stream's snapshot is dropped when it
covers the repaired version (it is derived data, rebuilt by replay).
"""

from __future__ import annotations

from typing import Any, Unpack

from sagacrew.runtime.store import _codec as codec
from sagacrew.runtime.store._errors import StoreError
from sagacrew.runtime.store._event_recorder import EventRepair
from sagacrew.runtime.store._records import RecordedEvent
from sagacrew.runtime.store._sql_base import SqlBase


class SqlRepair(SqlBase):
    """:meth:`repair_event` over SQL: one compare-and-set ``UPDATE`` in one transaction."""

    def repair_event(
        self, stream_id: str, version: int, **repair: Unpack[EventRepair]
    ) -> RecordedEvent:
        payload_json = codec.dumps(repair["payload"], what=f"repaired payload of {stream_id!r}")
        metadata = repair.get("metadata")
        with self._transaction() as cursor:
            found = cursor.run(
                "SELECT event_type, payload, metadata FROM events "
                "WHERE stream_id = ? AND version = ?",
                (stream_id, version),
            )
            if not found:
                raise StoreError(
                    f"stream {stream_id!r} has no event at version {version}",
                    fix=f"list the stream's rows with `sagacrew streams inspect DIR {stream_id}`",
                    stream_id=stream_id,
                    version=version,
                )
            old_type, old_payload, old_metadata = (str(value) for value in found[0])
            kept = _object_or_empty(old_metadata) if metadata is None else dict(metadata)
            kept["repaired"] = {
                "at": self._clock(),
                "event_type": old_type,
                "metadata": old_metadata,
                "payload": old_payload,
                "reason": repair.get("reason", ""),
            }
            metadata_json = codec.dumps(kept, what=f"repaired metadata of {stream_id!r}")
            updated = cursor.run(
                "UPDATE events SET event_type = ?, payload = ?, metadata = ? "
                "WHERE stream_id = ? AND version = ? AND event_type = ? AND payload = ? "
                "AND metadata = ? RETURNING position",
                (
                    repair.get("event_type") or old_type,
                    payload_json,
                    metadata_json,
                    stream_id,
                    version,
                    old_type,
                    old_payload,
                    old_metadata,
                ),
            )
            if not updated:  # another repair won the race between our read and our write
                raise StoreError(
                    f"event {version} of stream {stream_id!r} changed during the repair",
                    fix="inspect the stream again and repeat the repair",
                    stream_id=stream_id,
                    version=version,
                )
            cursor.run(
                "DELETE FROM snapshots WHERE stream_id = ? AND version >= ?", (stream_id, version)
            )
        return self.read_stream(stream_id, from_version=version, to_version=version)[0]


def _object_or_empty(text: str) -> dict[str, Any]:
    """The stored metadata when it is a JSON object, else ``{}`` (its text is kept anyway)."""
    try:
        return codec.loads_object(text, where="metadata", repair="")
    except StoreError:
        return {}
