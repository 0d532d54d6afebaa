"""The SQL store's operational tables: ``actor_message_log``, ``external_calls`` and
``consistency_validations``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sagacrew.runtime.store import _codec as codec
from sagacrew.runtime.store._errors import StoreError
from sagacrew.runtime.store._operations_recorder import ExternalCallUpdate, LedgerWrite
from sagacrew.runtime.store._records import ExternalCall, MessageLogEntry
from sagacrew.runtime.store._sql_base import Cursor, SqlBase, _filters

_VALIDATION_COLUMNS = (
    "system",
    "profile",
    "validated_at",
    "sagas_total",
    "success_rate",
    "step_latency_p95_ms",
    "step_latency_p99_ms",
    "consistency_score",
    "passed",
    "report",
)


class SqlOperations(SqlBase):
    """The actor message log, external calls and validation results."""

    # --- operational tables ---------------------------------------------------------

    def log_messages(self, entries: Sequence[MessageLogEntry]) -> None:
        if not entries:
            return
        rows = [
            (
                e.message_id,
                e.actor,
                e.message_name,
                e.correlation_id,
                e.causation_id,
                e.received_at,
                e.handled_ms,
                e.outcome,
                e.error,
            )
            for e in entries
        ]
        with self._transaction() as cursor:  # one statement for all (a COPY on PostgreSQL)
            cursor.run_many(
                "INSERT INTO actor_message_log (message_id, actor, message_name, "
                "correlation_id, causation_id, received_at, handled_ms, outcome, error) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )

    def write_external_calls(self, writes: Sequence[LedgerWrite]) -> list[bool | ExternalCall]:
        with self._transaction() as cursor:
            return [
                _update_call(cursor, write)
                if isinstance(write, ExternalCallUpdate)
                else _insert_call(cursor, write)
                for write in writes
            ]

    def get_external_call(self, idempotency_key: str) -> ExternalCall | None:
        rows = self._read(_SELECT_CALL, (idempotency_key,))
        return codec.external_call_from_row(rows[0]) if rows else None

    def list_external_calls(
        self, *, system: str | None = None, status: str | None = None
    ) -> list[ExternalCall]:
        where, params = _filters(system=system, status=status)
        rows = self._read(
            f"SELECT {codec.EXTERNAL_CALL_COLUMNS} FROM external_calls{where} "
            "ORDER BY created_at, idempotency_key",
            params,
        )
        return [codec.external_call_from_row(row) for row in rows]

    def external_call_key(self, system: str, operation: str, resource_id: str) -> str | None:
        rows = self._read(
            "SELECT idempotency_key FROM external_calls "
            "WHERE system = ? AND operation = ? AND resource_id = ?",
            (system, operation, resource_id),
        )
        return str(rows[0][0]) if rows else None

    def parked_compensations(self) -> int:
        rows = self._read(
            "SELECT COUNT(*) FROM dead_letters WHERE kind = 'compensation' AND status = 'parked'"
        )
        return int(rows[0][0]) if rows else 0

    def compensated_external_calls(self, system: str, operation: str) -> list[tuple[str, str, str]]:
        rows = self._read(
            "SELECT s.saga_id, c.idempotency_key, c.status FROM external_calls c "
            "JOIN saga_executions s ON s.correlation_id = c.correlation_id "
            "WHERE s.state = 'compensated' AND c.system = ? AND c.operation = ? "
            "ORDER BY s.saga_id, c.idempotency_key",
            (system, operation),
        )
        return [(str(saga_id), str(key), str(status)) for saga_id, key, status in rows]

    def actor_errors(self, since: float) -> list[tuple[str, str]]:
        rows = self._read(
            "SELECT actor, error FROM actor_message_log "
            "WHERE outcome = 'error' AND received_at >= ? ORDER BY seq",
            (since,),
        )
        return [(str(actor), str(error or "")) for actor, error in rows]

    def consistency_history(self, system: str, profile: str) -> list[tuple[float, float]]:
        rows = self._read(
            "SELECT validated_at, consistency_score FROM consistency_validations "
            "WHERE system = ? AND profile = ? ORDER BY validated_at, id",
            (system, profile),
        )
        return [(float(at), float(score)) for at, score in rows]

    def record_validation(self, **row: Any) -> int:
        missing = [name for name in _VALIDATION_COLUMNS if name not in row]
        unknown = sorted(set(row) - set(_VALIDATION_COLUMNS))
        if missing or unknown:
            raise StoreError(
                f"consistency_validations row has missing columns {missing} "
                f"and unknown columns {unknown}",
                fix=f"pass exactly these keyword arguments: {', '.join(_VALIDATION_COLUMNS)}",
            )
        values = dict(row)
        if isinstance(values["report"], Mapping):
            values["report"] = codec.dumps(values["report"], what="validation report")
        values["passed"] = int(bool(values["passed"]))
        with self._transaction() as cursor:
            rows = cursor.run(
                f"INSERT INTO consistency_validations ({', '.join(_VALIDATION_COLUMNS)}) "
                f"VALUES ({', '.join('?' for _ in _VALIDATION_COLUMNS)}) RETURNING id",
                tuple(values[name] for name in _VALIDATION_COLUMNS),
            )
        return int(rows[0][0])


_SELECT_CALL = f"SELECT {codec.EXTERNAL_CALL_COLUMNS} FROM external_calls WHERE idempotency_key = ?"


def _insert_call(cursor: Cursor, call: ExternalCall) -> bool:
    """Record ``call``; ``False`` (nothing written) when its key has a row."""
    inserted = cursor.run(
        f"INSERT INTO external_calls ({codec.EXTERNAL_CALL_COLUMNS}) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (idempotency_key) DO NOTHING RETURNING idempotency_key",
        (
            call.idempotency_key,
            call.system,
            call.operation,
            call.resource_id,
            call.status,
            codec.dumps(call.request, what="external call request"),
            codec.dumps(call.response, what="external call response"),
            call.correlation_id,
            call.causation_id,
            call.created_at,
            call.updated_at,
        ),
    )
    return bool(inserted)


def _update_call(cursor: Cursor, update: ExternalCallUpdate) -> ExternalCall:
    """Make ``update``; the call as it now is (unchanged when not in ``from_status``)."""
    key, change = update.idempotency_key, update.change
    sets: list[tuple[str, Any]] = [
        ("status", change["status"]),
        ("updated_at", change["updated_at"]),
    ]
    response, resource_id = change.get("response"), change.get("resource_id")
    if response is not None:
        sets.append(("response", codec.dumps(response, what="external call response")))
    if resource_id is not None:
        sets.append(("resource_id", resource_id))
    assignments = ", ".join(f"{column} = ?" for column, _ in sets)
    where: list[Any] = [key]
    only = ""
    if change.get("from_status") is not None:
        only = " AND status = ?"
        where.append(change["from_status"])
    rows = cursor.run(
        f"UPDATE external_calls SET {assignments} WHERE idempotency_key = ?{only} "
        f"RETURNING {codec.EXTERNAL_CALL_COLUMNS}",
        (*(value for _, value in sets), *where),
    )
    if not rows and only:
        rows = cursor.run(_SELECT_CALL, (key,))  # in another status: unchanged
    if not rows:
        raise StoreError(
            f"no external call is recorded under key {key!r}",
            fix="record the call with record_external_call before updating it",
        )
    return codec.external_call_from_row(rows[0])
