"""The SQL store's ``alerts`` table: an alert recorded on its own or inside the saga
transition that raises it (:func:`insert_alert`, called by ``_sql_sagas``), listed, and
its delivery noted; with the table's row codec."""

from __future__ import annotations

from typing import Any

from sagacrew.runtime.store._codec import record_from_row
from sagacrew.runtime.store._errors import StoreError
from sagacrew.runtime.store._records import AlertRecord
from sagacrew.runtime.store._sql_base import Cursor, SqlBase

ALERT_COLUMNS = (
    "id, kind, saga_id, saga_name, step_name, error, correlation_id, dead_letter_id, "
    "stream_id, raised_at, delivered_at, delivery_attempts, last_delivery_error"
)

_KEY = (
    "kind = ? AND correlation_id = ? AND saga_id = ? AND step_name = ? "
    "AND COALESCE(stream_id, '') = ? AND raised_at = ?"
)
"""The ``alerts_once`` unique key as a WHERE clause (see ``schema.sql``)."""


def _key(alert: AlertRecord) -> tuple[str, str, str, str, str, float]:
    """The values of :data:`_KEY`'s placeholders: ``alert``'s key."""
    return (
        alert.kind,
        alert.correlation_id,
        alert.saga_id,
        alert.step_name,
        alert.stream_id or "",
        alert.raised_at,
    )


def insert_alert(cursor: Cursor, alert: AlertRecord, *, dead_letter_id: int | None = None) -> int:
    """Insert ``alert`` undelivered and return its id; the same alert recorded again (a
    replayed batch) writes nothing and returns the id already there.

    ``dead_letter_id`` (the letter parked by the same transition) is used when the alert
    names none.
    """
    letter = alert.dead_letter_id if alert.dead_letter_id is not None else dead_letter_id
    rows = cursor.run(
        "INSERT INTO alerts (kind, saga_id, saga_name, step_name, error, correlation_id, "
        "dead_letter_id, stream_id, raised_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT DO NOTHING RETURNING id",
        (
            alert.kind,
            alert.saga_id,
            alert.saga_name,
            alert.step_name,
            alert.error,
            alert.correlation_id,
            letter,
            alert.stream_id,
            alert.raised_at,
        ),
    )
    if not rows:  # recorded before: the row is there already
        rows = cursor.run(f"SELECT id FROM alerts WHERE {_KEY}", _key(alert))
    if not rows:
        raise StoreError(
            f"alert {alert.kind!r} of saga {alert.saga_id!r} could not be recorded: its "
            "insert conflicted but no alert has its key",
            fix="check the alerts table holds the alerts_once index of schema.sql",
        )
    return int(rows[0][0])


def alert_from_row(row: tuple[Any, ...]) -> AlertRecord:
    """Decode an ``alerts`` row selected with :data:`ALERT_COLUMNS`."""
    try:
        return record_from_row(AlertRecord, ALERT_COLUMNS, row)
    except (TypeError, ValueError) as exc:
        raise StoreError(
            f"alert {row[0]!r} has a malformed column ({exc})",
            fix="repair the row to the column types of the alerts table in schema.sql",
        ) from exc


class SqlAlerts(SqlBase):
    """Alerts for an operator: recorded, listed, and their delivery noted."""

    # --- alerts ---------------------------------------------------------------------

    def record_alert(self, alert: AlertRecord) -> int:
        with self._transaction() as cursor:
            return insert_alert(cursor, alert)

    def list_alerts(self, *, delivered: bool | None = None, limit: int = 1000) -> list[AlertRecord]:
        if limit < 1:
            raise StoreError(f"limit={limit} lists no alert", fix="pass a limit of 1 or more")
        where = ""
        if delivered is not None:
            where = f" WHERE delivered_at IS {'NOT ' if delivered else ''}NULL"
        rows = self._read(
            f"SELECT {ALERT_COLUMNS} FROM alerts{where} ORDER BY id LIMIT ?", (limit,)
        )
        return [alert_from_row(row) for row in rows]

    def mark_alert_delivered(self, alert_id: int, at: float) -> None:
        self._note_delivery(
            alert_id,
            "delivered_at = COALESCE(delivered_at, ?), delivery_attempts = delivery_attempts + 1",
            at,
        )

    def note_alert_delivery_failed(self, alert_id: int, error: str) -> None:
        self._note_delivery(
            alert_id,
            "delivery_attempts = delivery_attempts + 1, last_delivery_error = ?",
            error,
        )

    def _note_delivery(self, alert_id: int, changes: str, value: Any) -> None:
        with self._transaction() as cursor:
            rows = cursor.run(
                f"UPDATE alerts SET {changes} WHERE id = ? RETURNING id", (value, alert_id)
            )
        if not rows:
            raise StoreError(
                f"alert {alert_id} does not exist",
                fix="list the alerts (list_alerts) and use one of their ids",
            )
