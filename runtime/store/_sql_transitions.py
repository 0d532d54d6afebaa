"""How the SQL store writes a saga transition: the saga row, its step-log rows, a dead
letter, the alert it raises, in one transaction; a batch of plain transitions (different
sagas' creates, updates and step-log rows) as one statement per kind of row."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sagacrew.runtime.store import _codec as codec
from sagacrew.runtime.store._errors import LeaseLost, StoreError
from sagacrew.runtime.store._records import (
    UNSET,
    DeadLetter,
    DeadLetterUpdate,
    SagaExecution,
    SagaTransition,
    SagaUpdate,
    StepLogEntry,
    TransitionIds,
)
from sagacrew.runtime.store._sql_alerts import insert_alert
from sagacrew.runtime.store._sql_base import Cursor, Statement, UniqueViolation

_NO_IDS = TransitionIds()
"""What a plain transition assigns: no ids (a frozen record, so one serves them all)."""


class Unusual(Exception):
    """A batch met a replayed create or a missing saga: written again the exact way."""


def plain(transition: SagaTransition) -> bool:
    """True for the common transition: a saga created or updated, step-log rows."""
    return (
        transition.dead_letter is None
        and transition.dead_letter_update is None
        and transition.alert is None
    )


_INSERT_SAGA = (
    f"INSERT INTO saga_executions ({codec.SAGA_COLUMNS}) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (saga_id) DO NOTHING"
)
_INSERT_STEP = (
    "INSERT INTO saga_step_log (saga_id, step_index, step_name, phase, status, attempt, "
    "compensatable, idempotency_key, started_at, correlation_id, causation_id, ended_at, "
    "latency_ms, error, result) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (saga_id, step_index, idempotency_key, status) DO NOTHING"
)

_INSERT_START = (
    "INSERT INTO saga_step_log (saga_id, step_index, step_name, phase, status, attempt, "
    "compensatable, idempotency_key, started_at, correlation_id, causation_id) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (saga_id, step_index, idempotency_key, status) DO NOTHING"
)
"""``_INSERT_STEP`` for a row whose end, latency, error and result are NULL."""


def fenced_out(cursor: Cursor, transitions: Sequence[SagaTransition], share: str) -> list[str]:
    """The sagas among ``transitions`` whose fence is not their lease any more (the lease
    rows read with ``share``: a claim waits until this transaction ends)."""
    fences = {t.saga_id: t.fence for t in transitions if t.fence is not None}
    if not fences:
        return []
    marks = ", ".join("?" for _ in fences)
    rows = cursor.run(
        f"SELECT saga_id, owner, generation FROM saga_leases WHERE saga_id IN ({marks}) "
        f"ORDER BY saga_id{share}",
        list(fences),
    )
    held = {str(saga_id): (str(owner), int(generation)) for saga_id, owner, generation in rows}
    return [
        str(saga_id)
        for saga_id, fence in fences.items()
        if fence is not None and held.get(str(saga_id)) != (fence.owner, fence.generation)
    ]


def apply_plain(
    cursor: Cursor, transitions: Sequence[SagaTransition], share: str = ""
) -> list[TransitionIds]:
    """Plain transitions of different sagas, one statement per kind of row for the whole
    batch (a saga has at most one transition in a batch: it awaits each commit), the
    statements sent together (:meth:`Cursor.run_batch`: one round trip on PostgreSQL).

    Raises :class:`Unusual` (the transaction rolls back) when a create was replayed, an
    update found no saga or a fence is not its saga's lease: :func:`apply` then writes
    each and says which is wrong."""
    if fenced_out(cursor, transitions, share):
        raise Unusual
    statements: list[Statement] = []
    creates = [_saga_row(t.create) for t in transitions if t.create is not None]
    if creates:
        statements.append((_INSERT_SAGA, creates))
    updates: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
    for transition in transitions:
        if transition.update is not None:
            changes = list(_changes(transition.update))
            columns = tuple(name for name, _ in changes)
            values = (*(value for _, value in changes), transition.update.saga_id)
            updates.setdefault(columns, []).append(values)
    for columns, rows in updates.items():
        sql = (
            f"UPDATE saga_executions SET {', '.join(f'{name} = ?' for name in columns)} "
            "WHERE saga_id = ?"
        )
        statements.append((sql, rows))
    counted = len(statements)  # every create inserted, every update matched its saga
    # A replayed row is already there: skipped, not counted. Rows that only say "started"
    # go last, in a statement of their own without the four columns they leave NULL: a
    # saga's rows keep their order (a transition's ``next_step``, always such a row, comes
    # after its ``step``), and rows of different sagas need none.
    steps: list[tuple[Any, ...]] = []
    starts: list[tuple[Any, ...]] = []
    for transition in transitions:
        for row in (transition.step, transition.next_step):
            if row is None:
                continue
            if _is_start(row):
                starts.append(_start_row(row))
            else:
                steps.append(_step_row(row))
    if steps:
        statements.append((_INSERT_STEP, steps))
    if starts:
        statements.append((_INSERT_START, starts))
    counts = cursor.run_batch(statements)
    for (_, written), count in zip(statements[:counted], counts[:counted], strict=True):
        if count != len(written):
            raise Unusual
    return [_NO_IDS] * len(transitions)


def apply(cursor: Cursor, transition: SagaTransition, share: str = "") -> TransitionIds:
    """Write ``transition``; :class:`LeaseLost` (nothing written) when its fence is not
    its saga's lease any more."""
    if transition.fence is not None and fenced_out(cursor, [transition], share):
        fence = transition.fence
        raise LeaseLost(
            f"saga {transition.saga_id!r}: worker {fence.owner!r} lost its lease "
            f"(generation {fence.generation}) to another worker; nothing was written",
            fix="nothing to do: the saga's new owner resumes it from the store",
            saga_id=transition.saga_id,
        )
    dead_letter_id: int | None = None
    if transition.create is not None:
        _insert_saga(cursor, transition.create)
    if transition.update is not None:
        _update_saga(cursor, transition.update)
    for step in (transition.step, transition.next_step):
        if step is not None:
            _insert_step(cursor, step)
    if transition.dead_letter is not None:
        dead_letter_id = _insert_dead_letter(cursor, transition.dead_letter)
    if transition.dead_letter_update is not None:
        _update_dead_letter(cursor, transition.dead_letter_update)
    alert_id: int | None = None
    if transition.alert is not None:
        alert_id = insert_alert(cursor, transition.alert, dead_letter_id=dead_letter_id)
    return TransitionIds(dead_letter_id=dead_letter_id, alert_id=alert_id)


def _insert_saga(cursor: Cursor, saga: SagaExecution) -> None:
    """Insert a new saga; the same create replayed (a batch whose commit acknowledgement
    was lost) is a no-op, another saga with the same id a :class:`UniqueViolation`."""
    rows = cursor.run(f"{_INSERT_SAGA} RETURNING saga_id", _saga_row(saga))
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


def _saga_row(saga: SagaExecution) -> tuple[Any, ...]:
    """The ``saga_executions`` values of ``saga``, in ``SAGA_COLUMNS`` order."""
    return (
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
        saga.definition_version,
    )


def _step_row(step: StepLogEntry) -> tuple[Any, ...]:
    """The ``saga_step_log`` values of ``step``, in ``_INSERT_STEP`` order."""
    result = None if step.result is None else codec.dumps(step.result, what="step result")
    return (*_start_row(step), step.ended_at, step.latency_ms, step.error, result)


def _is_start(step: StepLogEntry) -> bool:
    """True when ``step`` leaves every column ``_INSERT_START`` omits NULL."""
    return (
        step.ended_at is None
        and step.latency_ms is None
        and step.error is None
        and (step.result is None)
    )


def _start_row(step: StepLogEntry) -> tuple[Any, ...]:
    """The ``saga_step_log`` values of a row with no end, result or error (a ``started``
    one), in ``_INSERT_START`` order: the first columns of ``_INSERT_STEP``."""
    return (
        step.saga_id,
        step.step_index,
        step.step_name,
        step.phase,
        step.status,
        step.attempt,
        int(step.compensatable),
        step.idempotency_key,
        step.started_at,
        step.correlation_id,
        step.causation_id,
    )


def _insert_step(cursor: Cursor, step: StepLogEntry) -> None:
    """Append ``step`` to the step log; a replayed row (same key and status) is skipped."""
    cursor.run(_INSERT_STEP, _step_row(step))


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
