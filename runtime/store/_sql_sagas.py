"""The SQL store's saga persistence: ``saga_executions``, ``saga_step_log`` and
``dead_letters``, each saga transition written in one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Unpack

from sagacrew.runtime.store import _codec as codec
from sagacrew.runtime.store._records import (
    DeadLetter,
    SagaExecution,
    SagaSummary,
    SagaTransition,
    StepLogEntry,
    StoredRun,
    TransitionIds,
)
from sagacrew.runtime.store._saga_recorder import SagaPageQuery
from sagacrew.runtime.store._sql_base import SqlBase, _filters
from sagacrew.runtime.store._sql_transitions import Unusual, apply, apply_plain, plain


class SqlSagas(SqlBase):
    """Saga transitions, sagas, their step log and dead letters."""

    # --- saga persistence -----------------------------------------------------------

    def apply_saga_transition(self, transition: SagaTransition) -> TransitionIds:
        with self._transaction() as cursor:
            return apply(cursor, transition, self._share_lock)

    def apply_saga_transitions(self, transitions: Sequence[SagaTransition]) -> list[TransitionIds]:
        if not transitions:
            return []
        if all(plain(transition) for transition in transitions):
            try:
                with self._transaction() as cursor:
                    return apply_plain(cursor, transitions, self._share_lock)
            except Unusual:
                pass  # rolled back: written again below, one transition at a time
        with self._transaction() as cursor:
            return [apply(cursor, transition, self._share_lock) for transition in transitions]

    def get_saga(self, saga_id: str) -> SagaExecution | None:
        sagas = self._sagas(" WHERE s.saga_id = ?", [saga_id])
        return sagas[0] if sagas else None

    def list_sagas(
        self, states: Sequence[str] | None = None, *, correlation_id: str | None = None
    ) -> list[SagaExecution]:
        if states is not None and not states:
            return []
        return self._sagas(*_saga_filter(states, table="s.", correlation_id=correlation_id))

    def _sagas(self, where: str, params: list[Any]) -> list[SagaExecution]:
        """The sagas ``where`` selects (over ``saga_executions s``), in start order, each
        up to date: an unsettled saga's row has its data as of its last change of state (a
        running saga's row, its step too), and its succeeded steps since are in the step
        log (one statement, so the row and its steps are read as of one moment)."""
        rows = self._read(
            f"{_SAGAS_WITH_RESULTS}{where} ORDER BY s.started_at, s.saga_id, l.seq", params
        )
        sagas: list[SagaExecution] = []
        done: set[int] = set()
        for row in rows:
            if not sagas or sagas[-1].saga_id != row[0]:
                sagas.append(codec.saga_from_row(row[:-2]))
                done = set()
            if row[-1] is None:
                continue
            saga = sagas[-1]
            # Merged again in step order over what the row holds: the same data, since the
            # row's data is the input with the earlier of these same results.
            saga.data.update(
                codec.loads_object(
                    row[-1],
                    where=f"saga_step_log.result of a succeeded step of saga {saga.saga_id!r}",
                    repair="restore the step's result from its reply, or delete the row",
                    saga_id=saga.saga_id,
                )
            )
            if saga.state == "running":  # the row's step is as of the saga's start
                done.add(int(row[-2]))
                at = saga.__dict__  # (a record read here, not shared yet)
                at["step_index"] = max(saga.step_index, max(done) + 1)
                at["steps_completed"] = max(saga.steps_completed, len(done))
        return sagas

    def list_saga_ids(self, states: Sequence[str]) -> list[str]:
        if not states:
            return []
        where, params = _saga_filter(states)
        rows = self._read(
            f"SELECT saga_id FROM saga_executions{where} ORDER BY started_at, saga_id", params
        )
        return [str(saga_id) for (saga_id,) in rows]

    def saga_page(
        self, **query: Unpack[SagaPageQuery]
    ) -> list[tuple[SagaSummary, float | None, str | None]]:
        states = query.get("states")
        if states is not None and not states:
            return []
        where, params = _saga_filter(states, saga_name=query.get("saga_name"))
        error_contains = query.get("error_contains")
        if error_contains:
            escaped = "".join(f"\\{c}" if c in "\\%_" else c for c in error_contains.lower())
            clause = "LOWER(COALESCE(error, '')) LIKE ? ESCAPE '\\'"
            where = f"{where} AND {clause}" if where else f" WHERE {clause}"
            params.append(f"%{escaped}%")
        rows = self._read(
            "SELECT saga_id, saga_name, state, steps_completed, steps_total, started_at, "
            f"ended_at, error FROM saga_executions{where} "
            "ORDER BY started_at DESC, saga_id DESC LIMIT ? OFFSET ?",
            [*params, query.get("limit", 50), query.get("offset", 0)],
        )
        running = [str(row[0]) for row in rows if row[2] == "running"]
        done = self._steps_done(running) if running else {}
        return [
            (
                SagaSummary(str(a), str(b), str(c), max(int(d), done.get(str(a), 0)), int(e),
                            float(f)),
                None if ended is None else float(ended),
                None if error is None else str(error),
            )
            for a, b, c, d, e, f, ended, error in rows
        ]  # fmt: skip

    def _steps_done(self, saga_ids: list[str]) -> dict[str, int]:
        """How many steps of each of ``saga_ids`` succeeded, from the step log (a running
        saga's row counts them as of its start)."""
        marks = ", ".join("?" for _ in saga_ids)
        rows = self._read(
            "SELECT saga_id, COUNT(DISTINCT step_index) FROM saga_step_log "
            f"WHERE saga_id IN ({marks}) AND phase = 'forward' AND status = 'succeeded' "
            "GROUP BY saga_id",
            saga_ids,
        )
        return {str(saga_id): int(count) for saga_id, count in rows}

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

    def live_versions(self) -> dict[tuple[str, str], int]:
        rows = self._read(
            "SELECT saga_name, definition_version, COUNT(*) FROM saga_executions "
            f"WHERE state IN {_UNSETTLED} OR saga_id IN "
            "(SELECT saga_id FROM dead_letters WHERE status = 'parked' AND saga_id IS NOT NULL) "
            "GROUP BY saga_name, definition_version"
        )
        return {(str(name), str(version)): int(n) for name, version, n in rows}

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

    def step_logs(self, states: Sequence[str]) -> dict[str, list[StepLogEntry]]:
        if not states:
            return {}
        columns = ", ".join(f"l.{column.strip()}" for column in codec.STEP_COLUMNS.split(","))
        marks = ", ".join("?" for _ in states)
        rows = self._read(
            f"SELECT {columns} FROM saga_step_log l JOIN saga_executions s "
            f"ON s.saga_id = l.saga_id WHERE s.state IN ({marks}) ORDER BY l.saga_id, l.seq",
            list(states),
        )
        return _by_saga(rows)

    def stored_runs(self, saga_ids: Sequence[str]) -> dict[str, StoredRun]:
        ids = list(dict.fromkeys(saga_ids))
        sagas: list[SagaExecution] = []
        steps: dict[str, list[StepLogEntry]] = {}
        letters: dict[str, list[DeadLetter]] = {}
        for start in range(0, len(ids), _IDS_AT_ONCE):
            chunk = ids[start : start + _IDS_AT_ONCE]
            marks = ", ".join("?" for _ in chunk)
            sagas += self._sagas(f" WHERE s.saga_id IN ({marks})", chunk)
            steps |= _by_saga(
                self._read(
                    f"SELECT {codec.STEP_COLUMNS} FROM saga_step_log "
                    f"WHERE saga_id IN ({marks}) ORDER BY saga_id, seq",
                    chunk,
                )
            )
            for row in self._read(
                f"SELECT {codec.DEAD_LETTER_COLUMNS} FROM dead_letters "
                f"WHERE saga_id IN ({marks}) ORDER BY id",
                chunk,
            ):
                letter = codec.dead_letter_from_row(row)
                letters.setdefault(str(letter.saga_id), []).append(letter)
        return {
            saga.saga_id: StoredRun(
                saga, steps.get(saga.saga_id, []), letters.get(saga.saga_id, [])
            )
            for saga in sagas
        }

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


def _by_saga(rows: list[tuple[Any, ...]]) -> dict[str, list[StepLogEntry]]:
    """Step-log ``rows`` (``STEP_COLUMNS``, ordered by saga and ``seq``) by saga id."""
    logs: dict[str, list[StepLogEntry]] = {}
    for row in rows:
        entry = codec.step_from_row(row)
        logs.setdefault(entry.saga_id, []).append(entry)
    return logs


_IDS_AT_ONCE = 500
"""Saga ids in one ``IN (...)`` list (a longer list is read a chunk at a time)."""

_UNSETTLED = "('running', 'waiting', 'compensating')"
"""The states of a saga still in flight, as SQL."""

_SAGAS_WITH_RESULTS = (
    "SELECT "
    + ", ".join(f"s.{column.strip()}" for column in codec.SAGA_COLUMNS.split(","))
    + ", l.step_index, l.result FROM saga_executions s "
    "LEFT JOIN saga_step_log l ON l.saga_id = s.saga_id "
    f"AND s.state IN {_UNSETTLED} AND l.phase = 'forward' "
    "AND l.status = 'succeeded'"
)
"""Sagas with their succeeded steps (index, result) when unsettled (a row per step)."""


def _saga_filter(
    states: Sequence[str] | None, *, table: str = "", **equal: str | None
) -> tuple[str, list[Any]]:
    """A WHERE clause on ``saga_executions`` (its columns prefixed with ``table``, e.g.
    ``"s."``): the state among ``states`` (any when ``None``) and each non-None keyword
    column equal to its value."""
    where, params = _filters(table=table, **equal)
    if states is None:
        return where, list(params)
    clause = f"{table}state IN ({', '.join('?' for _ in states)})"
    where = f"{where} AND {clause}" if where else f" WHERE {clause}"
    return where, [*params, *states]
