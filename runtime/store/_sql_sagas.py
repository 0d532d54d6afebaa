"""The SQL store's saga persistence: ``saga_executions``, ``saga_step_log`` and
``dead_letters``, each saga transition written in one transaction."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sagacrew.runtime.store import _codec as codec
from sagacrew.runtime.store._errors import StoreError
from sagacrew.runtime.store._records import (
    UNSET,
    DeadLetter,
    DeadLetterUpdate,
    SagaExecution,
    SagaSummary,
    SagaTransition,
    SagaUpdate,
    StepLogEntry,
    TransitionIds,
)
from sagacrew.runtime.store._sql_alerts import insert_alert
from sagacrew.runtime.store._sql_base import Cursor, SqlBase, UniqueViolation, _filters


class SqlSagas(SqlBase):
    """Saga transitions, sagas, their step log and dead letters."""

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
        if states is not None and not states:
            return []
        where, params = _saga_filter(states, correlation_id=correlation_id)
        rows = self._read(
            f"SELECT {codec.SAGA_COLUMNS} FROM saga_executions{where} ORDER BY started_at, saga_id",
            params,
        )
        return [codec.saga_from_row(row) for row in rows]

    def list_saga_ids(self, states: Sequence[str]) -> list[str]:
        if not states:
            return []
        where, params = _saga_filter(states)
        rows = self._read(
            f"SELECT saga_id FROM saga_executions{where} ORDER BY started_at, saga_id", params
        )
        return [str(saga_id) for (saga_id,) in rows]

    def saga_summaries(
        self,
        *,
        states: Sequence[str] | None = None,
        saga_name: str | None = None,
        limit: int = 50,
    ) -> list[SagaSummary]:
        if states is not None and not states:
            return []
        where, params = _saga_filter(states, saga_name=saga_name)
        rows = self._read(
            "SELECT saga_id, saga_name, state, steps_completed, steps_total, started_at "
            f"FROM saga_executions{where} ORDER BY started_at DESC, saga_id DESC LIMIT ?",
            [*params, limit],
        )
        return [
            SagaSummary(str(a), str(b), str(c), int(d), int(e), float(f))
            for a, b, c, d, e, f in rows
        ]

    def saga_page(
        self,
        *,
        states: Sequence[str] | None = None,
        saga_name: str | None = None,
        error_contains: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[tuple[SagaSummary, float | None, str | None]]:
        if states is not None and not states:
            return []
        where, params = _saga_filter(states, saga_name=saga_name)
        if error_contains:
            escaped = "".join(f"\\{c}" if c in "\\%_" else c for c in error_contains.lower())
            clause = "LOWER(COALESCE(error, '')) LIKE ? ESCAPE '\\'"
            where = f"{where} AND {clause}" if where else f" WHERE {clause}"
            params.append(f"%{escaped}%")
        rows = self._read(
            "SELECT saga_id, saga_name, state, steps_completed, steps_total, started_at, "
            f"ended_at, error FROM saga_executions{where} "
            "ORDER BY started_at DESC, saga_id DESC LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )
        return [
            (
                SagaSummary(str(a), str(b), str(c), int(d), int(e), float(f)),
                None if ended is None else float(ended),
                None if error is None else str(error),
            )
            for a, b, c, d, e, f, ended, error in rows
        ]

    def saga_label(self, saga_id: str) -> tuple[str, str] | None:
        rows = self._read(
            "SELECT saga_name, correlation_id FROM saga_executions WHERE saga_id = ?", (saga_id,)
        )
        return (str(rows[0][0]), str(rows[0][1])) if rows else None

    def saga_errors(self, states: Sequence[str]) -> list[tuple[str, str, str | None]]:
        if not states:
            return []
        where, params = _saga_filter(states)
        rows = self._read(
            f"SELECT saga_id, state, error FROM saga_executions{where} "
            "ORDER BY started_at, saga_id",
            params,
        )
        return [(str(a), str(b), None if c is None else str(c)) for a, b, c in rows]

    def failed_forward_steps(self) -> dict[str, str]:
        last: dict[str, tuple[int, str]] = {}
        for saga_id, step_name, seq in self._read(
            "SELECT saga_id, step_name, seq FROM saga_step_log "
            "WHERE phase = 'forward' AND status = 'failed'"
        ):
            known = last.get(str(saga_id))
            if known is None or int(seq) > known[0]:
                last[str(saga_id)] = (int(seq), str(step_name))
        return {saga_id: step for saga_id, (_, step) in last.items()}

    def saga_state_counts(self) -> dict[str, int]:
        rows = self._read("SELECT state, COUNT(*) FROM saga_executions GROUP BY state")
        return {str(state): int(n) for state, n in rows}

    def saga_counts(self) -> dict[tuple[str, str], int]:
        rows = self._read(
            "SELECT saga_name, state, COUNT(*) FROM saga_executions GROUP BY saga_name, state"
        )
        return {(str(name), str(state)): int(n) for name, state, n in rows}

    def saga_ids_by_correlation(self) -> dict[str, str]:
        rows = self._read(
            "SELECT correlation_id, saga_id FROM saga_executions ORDER BY started_at, saga_id"
        )
        return {str(correlation_id): str(saga_id) for correlation_id, saga_id in rows}

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


def _saga_filter(states: Sequence[str] | None, **equal: str | None) -> tuple[str, list[Any]]:
    """A WHERE clause on ``saga_executions``: the state among ``states`` (any when
    ``None``) and each non-None keyword column equal to its value."""
    where, params = _filters(**equal)
    if states is None:
        return where, list(params)
    clause = f"state IN ({', '.join('?' for _ in states)})"
    where = f"{where} AND {clause}" if where else f" WHERE {clause}"
    return where, [*params, *states]


def _apply(cursor: Cursor, transition: SagaTransition) -> TransitionIds:
    step_seq: int | None = None
    dead_letter_id: int | None = None
    if transition.create is not None:
        _insert_saga(cursor, transition.create)
    if transition.update is not None:
        _update_saga(cursor, transition.update)
    if transition.step is not None:
        step_seq = _insert_step(cursor, transition.step)
    if transition.next_step is not None:
        _insert_step(cursor, transition.next_step)
    if transition.dead_letter is not None:
        dead_letter_id = _insert_dead_letter(cursor, transition.dead_letter)
    if transition.dead_letter_update is not None:
        _update_dead_letter(cursor, transition.dead_letter_update)
    alert_id: int | None = None
    if transition.alert is not None:
        alert_id = insert_alert(cursor, transition.alert, dead_letter_id=dead_letter_id)
    return TransitionIds(step_seq=step_seq, dead_letter_id=dead_letter_id, alert_id=alert_id)


def _insert_saga(cursor: Cursor, saga: SagaExecution) -> None:
    """Insert a new saga; the same create replayed (a batch whose commit acknowledgement
    was lost) is a no-op, another saga with the same id a :class:`UniqueViolation`."""
    rows = cursor.run(
        f"INSERT INTO saga_executions ({codec.SAGA_COLUMNS}) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (saga_id) DO NOTHING RETURNING saga_id",
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
    if rows:
        return
    existing = cursor.run(
        "SELECT saga_name, correlation_id, started_at FROM saga_executions WHERE saga_id = ?",
        (saga.saga_id,),
    )
    if not existing or tuple(existing[0]) != (saga.saga_name, saga.correlation_id, saga.started_at):
        raise UniqueViolation(
            f"saga id {saga.saga_id!r} already exists in saga_executions",
            fix="start the saga with a fresh saga_id",
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


def _update_row(
    cursor: Cursor,
    table: str,
    key: tuple[str, Any],
    changes: Sequence[tuple[str, Any]],
    missing: StoreError,
) -> None:
    """Set ``changes`` (column, value) on the row of ``table`` whose ``key`` column has the
    key's value; raise ``missing`` when there is no such row."""
    column, value = key
    rows = cursor.run(
        f"UPDATE {table} SET {', '.join(f'{name} = ?' for name, _ in changes)} "
        f"WHERE {column} = ? RETURNING {column}",
        (*(change for _, change in changes), value),
    )
    if not rows:
        raise missing


def _update_saga(cursor: Cursor, update: SagaUpdate) -> None:
    missing = StoreError(
        f"saga {update.saga_id!r} does not exist in saga_executions",
        fix="create the saga (SagaTransition.create) before updating it",
    )
    changes = list(_changes(update))
    _update_row(cursor, "saga_executions", ("saga_id", update.saga_id), changes, missing)


def _insert_step(cursor: Cursor, step: StepLogEntry) -> int:
    result = None if step.result is None else codec.dumps(step.result, what="step result")
    rows = cursor.run(
        "INSERT INTO saga_step_log (saga_id, step_index, step_name, phase, status, attempt, "
        "compensatable, idempotency_key, started_at, ended_at, latency_ms, error, result, "
        "correlation_id, causation_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (idempotency_key, status) DO NOTHING RETURNING seq",
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
    if not rows:  # replayed: the row is there already
        rows = cursor.run(
            "SELECT seq FROM saga_step_log WHERE idempotency_key = ? AND status = ?",
            (step.idempotency_key, step.status),
        )
    return int(rows[0][0])


def _insert_dead_letter(cursor: Cursor, letter: DeadLetter) -> int:
    rows = cursor.run(
        "INSERT INTO dead_letters (kind, saga_id, step_index, step_name, target, payload, "
        "error, attempts, status, correlation_id, causation_id, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (kind, correlation_id, causation_id, step_index, created_at) DO NOTHING "
        "RETURNING id",
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
    if not rows:  # replayed: the letter is there already
        rows = cursor.run(
            "SELECT id FROM dead_letters WHERE kind = ? AND correlation_id = ? AND "
            "causation_id = ? AND step_index = ? AND created_at = ?",
            (
                letter.kind,
                letter.correlation_id,
                letter.causation_id,
                letter.step_index,
                letter.created_at,
            ),
        )
    return int(rows[0][0])


def _update_dead_letter(cursor: Cursor, update: DeadLetterUpdate) -> None:
    changes: list[tuple[str, Any]] = [("status", update.status), ("updated_at", update.updated_at)]
    if update.error is not UNSET:
        changes.append(("error", update.error))
    if update.attempts is not UNSET:
        changes.append(("attempts", update.attempts))
    missing = StoreError(
        f"dead letter {update.id} does not exist",
        fix="list the dead letters (list_dead_letters) and use one of their ids",
    )
    _update_row(cursor, "dead_letters", ("id", update.id), changes, missing)
