"""The SQL implementation of :class:`Store`, shared by the SQLite and PostgreSQL backends.

Statements are written once, with ``?`` placeholders and portable SQL (``RETURNING``,
``ON CONFLICT``); a backend supplies the connection, the write transaction and the
translation of driver errors.
"""

from __future__ import annotations

import time
from abc import abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

from sagacrew.runtime.store import _codec as codec
from sagacrew.runtime.store._base import Store
from sagacrew.runtime.store._errors import ConcurrencyError, DuplicateCommandError, StoreError
from sagacrew.runtime.store._records import (
    UNSET,
    AppendRequest,
    DeadLetter,
    DeadLetterUpdate,
    ExternalCall,
    NewEvent,
    RecordedEvent,
    SagaExecution,
    SagaTransition,
    SagaUpdate,
    Snapshot,
    StepLogEntry,
    TransitionIds,
)

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


class UniqueViolation(StoreError):
    """A backend's translation of a UNIQUE / PRIMARY KEY violation (internal)."""


class Cursor(Protocol):
    """What a backend's transaction yields: run one statement, get all its rows."""

    def run(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...


class SqlStore(Store):
    """:class:`Store` over a SQL connection; ``clock`` stamps ``recorded_at`` and friends."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock

    # --- backend hooks --------------------------------------------------------------

    @abstractmethod
    def _transaction(self) -> AbstractContextManager[Cursor]:
        """A write transaction: commits on exit, rolls back on error.

        Driver errors become :class:`StoreError`; unique violations :class:`UniqueViolation`.
        """

    @abstractmethod
    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one read statement outside an explicit transaction."""

    # --- events ---------------------------------------------------------------------

    def _lock_events(self, cursor: Cursor) -> None:
        """Serialise appends so positions commit in order (a no-op where writes are serial)."""

    def append(
        self,
        stream_id: str,
        expected_version: int,
        events: Sequence[NewEvent],
        *,
        idempotency_key: str | None = None,
        result: Mapping[str, Any] | None = None,
    ) -> int:
        request = AppendRequest(stream_id, expected_version, events, idempotency_key, result)
        return self.append_many([request])[0]

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

    def read_stream(self, stream_id: str, from_version: int = 1) -> list[RecordedEvent]:
        rows = self._read(
            f"SELECT {codec.EVENT_COLUMNS} FROM events WHERE stream_id = ? AND version >= ? "
            "ORDER BY version",
            (stream_id, from_version),
        )
        events: list[RecordedEvent] = []
        expected = max(from_version, 1)
        for row in rows:
            version = int(row[2])
            if version != expected:
                raise StoreError(
                    f"stream {stream_id!r} has a version gap: version {expected} is missing "
                    f"(next stored version is {version})",
                    fix=(
                        f"restore event {expected} of stream {stream_id!r} from a backup; "
                        "never delete or renumber events"
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

    # --- operational tables ---------------------------------------------------------

    def log_message(
        self,
        *,
        message_id: str,
        actor: str,
        message_name: str,
        correlation_id: str | None,
        causation_id: str | None,
        received_at: float,
        handled_ms: float,
        outcome: str,
        error: str | None,
    ) -> None:
        with self._transaction() as cursor:
            cursor.run(
                "INSERT INTO actor_message_log (message_id, actor, message_name, correlation_id, "
                "causation_id, received_at, handled_ms, outcome, error) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    message_id,
                    actor,
                    message_name,
                    correlation_id,
                    causation_id,
                    received_at,
                    handled_ms,
                    outcome,
                    error,
                ),
            )

    def record_external_call(self, call: ExternalCall) -> bool:
        with self._transaction() as cursor:
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

    def get_external_call(self, idempotency_key: str) -> ExternalCall | None:
        rows = self._read(
            f"SELECT {codec.EXTERNAL_CALL_COLUMNS} FROM external_calls WHERE idempotency_key = ?",
            (idempotency_key,),
        )
        return codec.external_call_from_row(rows[0]) if rows else None

    def update_external_call(
        self,
        idempotency_key: str,
        *,
        status: str,
        updated_at: float,
        response: Mapping[str, Any] | None = None,
    ) -> ExternalCall:
        with self._transaction() as cursor:
            if response is None:
                rows = cursor.run(
                    "UPDATE external_calls SET status = ?, updated_at = ? "
                    f"WHERE idempotency_key = ? RETURNING {codec.EXTERNAL_CALL_COLUMNS}",
                    (status, updated_at, idempotency_key),
                )
            else:
                rows = cursor.run(
                    "UPDATE external_calls SET status = ?, updated_at = ?, response = ? "
                    f"WHERE idempotency_key = ? RETURNING {codec.EXTERNAL_CALL_COLUMNS}",
                    (
                        status,
                        updated_at,
                        codec.dumps(response, what="external call response"),
                        idempotency_key,
                    ),
                )
        if not rows:
            raise StoreError(
                f"no external call is recorded under key {idempotency_key!r}",
                fix="record the call with record_external_call before updating it",
            )
        return codec.external_call_from_row(rows[0])

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

    # --- saga persistence -----------------------------------------------------------

    def apply_saga_transition(self, transition: SagaTransition) -> TransitionIds:
        with self._transaction() as cursor:
            return _apply(cursor, transition)

    def apply_saga_transitions(self, transitions: Sequence[SagaTransition]) -> list[TransitionIds]:
        if not transitions:
            return []
        with self._transaction() as cursor:
            return [_apply(cursor, transition) for transition in transitions]

    def get_saga(self, saga_id: str) -> SagaExecution | None:
        rows = self._read(
            f"SELECT {codec.SAGA_COLUMNS} FROM saga_executions WHERE saga_id = ?", (saga_id,)
        )
        return codec.saga_from_row(rows[0]) if rows else None

    def list_sagas(
        self, states: Sequence[str] | None = None, *, correlation_id: str | None = None
    ) -> list[SagaExecution]:
        clauses: list[str] = []
        params: list[Any] = []
        if states is not None:
            if not states:
                return []
            clauses.append(f"state IN ({', '.join('?' for _ in states)})")
            params.extend(states)
        if correlation_id is not None:
            clauses.append("correlation_id = ?")
            params.append(correlation_id)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self._read(
            f"SELECT {codec.SAGA_COLUMNS} FROM saga_executions{where} ORDER BY started_at, saga_id",
            params,
        )
        return [codec.saga_from_row(row) for row in rows]

    def step_log(self, saga_id: str) -> list[StepLogEntry]:
        rows = self._read(
            f"SELECT {codec.STEP_COLUMNS} FROM saga_step_log WHERE saga_id = ? ORDER BY seq",
            (saga_id,),
        )
        return [codec.step_from_row(row) for row in rows]

    def get_dead_letter(self, dead_letter_id: int) -> DeadLetter | None:
        rows = self._read(
            f"SELECT {codec.DEAD_LETTER_COLUMNS} FROM dead_letters WHERE id = ?", (dead_letter_id,)
        )
        return codec.dead_letter_from_row(rows[0]) if rows else None

    def list_dead_letters(
        self, *, status: str | None = None, saga_id: str | None = None
    ) -> list[DeadLetter]:
        where, params = _filters(status=status, saga_id=saga_id)
        rows = self._read(
            f"SELECT {codec.DEAD_LETTER_COLUMNS} FROM dead_letters{where} ORDER BY id", params
        )
        return [codec.dead_letter_from_row(row) for row in rows]


def _apply(cursor: Cursor, transition: SagaTransition) -> TransitionIds:
    step_seq: int | None = None
    dead_letter_id: int | None = None
    if transition.create is not None:
        _insert_saga(cursor, transition.create)
    if transition.update is not None:
        _update_saga(cursor, transition.update)
    if transition.step is not None:
        step_seq = _insert_step(cursor, transition.step)
    if transition.dead_letter is not None:
        dead_letter_id = _insert_dead_letter(cursor, transition.dead_letter)
    if transition.dead_letter_update is not None:
        _update_dead_letter(cursor, transition.dead_letter_update)
    return TransitionIds(step_seq=step_seq, dead_letter_id=dead_letter_id)


def _filters(**equal: str | None) -> tuple[str, tuple[Any, ...]]:
    """A WHERE clause matching every non-None keyword (column = value)."""
    used = {column: value for column, value in equal.items() if value is not None}
    if not used:
        return "", ()
    return " WHERE " + " AND ".join(f"{column} = ?" for column in used), tuple(used.values())


def _insert_saga(cursor: Cursor, saga: SagaExecution) -> None:
    cursor.run(
        f"INSERT INTO saga_executions ({codec.SAGA_COLUMNS}) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            saga.saga_id,
            saga.saga_name,
            saga.state,
            saga.step_index,
            saga.steps_total,
            saga.steps_completed,
            saga.pivot_index,
            codec.dumps(saga.data, what=f"data of saga {saga.saga_id!r}"),
            saga.correlation_id,
            saga.causation_id,
            saga.started_at,
            saga.updated_at,
            saga.deadline_at,
            saga.ended_at,
            saga.error,
        ),
    )


def _changes(update: SagaUpdate) -> Iterator[tuple[str, Any]]:
    yield "updated_at", update.updated_at
    if update.state is not UNSET:
        yield "state", update.state
    if update.step_index is not UNSET:
        yield "step_index", update.step_index
    if update.steps_completed is not UNSET:
        yield "steps_completed", update.steps_completed
    if update.data is not UNSET:
        yield "data", codec.dumps(update.data, what=f"data of saga {update.saga_id!r}")
    if update.ended_at is not UNSET:
        yield "ended_at", update.ended_at
    if update.error is not UNSET:
        yield "error", update.error


def _update_saga(cursor: Cursor, update: SagaUpdate) -> None:
    changes = list(_changes(update))
    rows = cursor.run(
        f"UPDATE saga_executions SET {', '.join(f'{name} = ?' for name, _ in changes)} "
        "WHERE saga_id = ? RETURNING saga_id",
        (*(value for _, value in changes), update.saga_id),
    )
    if not rows:
        raise StoreError(
            f"saga {update.saga_id!r} does not exist in saga_executions",
            fix="create the saga (SagaTransition.create) before updating it",
        )


def _insert_step(cursor: Cursor, step: StepLogEntry) -> int:
    result = None if step.result is None else codec.dumps(step.result, what="step result")
    rows = cursor.run(
        "INSERT INTO saga_step_log (saga_id, step_index, step_name, phase, status, attempt, "
        "compensatable, idempotency_key, started_at, ended_at, latency_ms, error, result, "
        "correlation_id, causation_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "RETURNING seq",
        (
            step.saga_id,
            step.step_index,
            step.step_name,
            step.phase,
            step.status,
            step.attempt,
            int(step.compensatable),
            step.idempotency_key,
            step.started_at,
            step.ended_at,
            step.latency_ms,
            step.error,
            result,
            step.correlation_id,
            step.causation_id,
        ),
    )
    return int(rows[0][0])


def _insert_dead_letter(cursor: Cursor, letter: DeadLetter) -> int:
    rows = cursor.run(
        "INSERT INTO dead_letters (kind, saga_id, step_index, step_name, target, payload, "
        "error, attempts, status, correlation_id, causation_id, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        (
            letter.kind,
            letter.saga_id,
            letter.step_index,
            letter.step_name,
            letter.target,
            codec.dumps(letter.payload, what="dead letter payload"),
            letter.error,
            letter.attempts,
            letter.status,
            letter.correlation_id,
            letter.causation_id,
            letter.created_at,
            letter.updated_at,
        ),
    )
    return int(rows[0][0])


def _update_dead_letter(cursor: Cursor, update: DeadLetterUpdate) -> None:
    changes: list[tuple[str, Any]] = [("status", update.status), ("updated_at", update.updated_at)]
    if update.error is not UNSET:
        changes.append(("error", update.error))
    if update.attempts is not UNSET:
        changes.append(("attempts", update.attempts))
    rows = cursor.run(
        f"UPDATE dead_letters SET {', '.join(f'{name} = ?' for name, _ in changes)} "
        "WHERE id = ? RETURNING id",
        (*(value for _, value in changes), update.id),
    )
    if not rows:
        raise StoreError(
            f"dead letter {update.id} does not exist",
            fix="list the dead letters (list_dead_letters) and use one of their ids",
        )
