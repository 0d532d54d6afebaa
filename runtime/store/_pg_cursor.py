"""How a PostgreSQL transaction sends its statements: a statement's ``?`` placeholders as
psycopg's ``%s``, a batch's inserts of many rows as ``COPY`` under one savepoint, or, for a
store shared by workers, each batch as one whole query."""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from typing import Any

import psycopg
import psycopg.errors

from sagacrew.runtime.store._sql_base import Statement, checked


@functools.lru_cache(maxsize=512)
def qmark_to_format(sql: str) -> str:
    """Translate ``?`` placeholders to psycopg's ``%s`` (and escape literal ``%``).

    ``?`` inside quoted strings, quoted identifiers and comments is left alone.
    """
    out: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        char = sql[i]
        if char in "'\"":
            end = sql.find(char, i + 1)
            end = n - 1 if end == -1 else end
            out.append(sql[i : end + 1].replace("%", "%%"))
            i = end + 1
            continue
        if sql.startswith("--", i):
            end = sql.find("\n", i)
            end = n if end == -1 else end
            out.append(sql[i:end].replace("%", "%%"))
            i = end
            continue
        if sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            end = n if end == -1 else end + 2
            out.append(sql[i:end].replace("%", "%%"))
            i = end
            continue
        out.append("%s" if char == "?" else "%%" if char == "%" else char)
        i += 1
    return "".join(out)


COPY_FROM_ROWS = 8
"""From how many rows a batch's ``INSERT`` is sent as a ``COPY`` (see ``PgCursor._copies``)."""

_ONE_ROW_INSERT = re.compile(
    r"INSERT INTO (\w+ \([\w, ]+\)) VALUES \(\?(?:, \?)*\)(?: ON CONFLICT \([\w, ]+\) DO NOTHING)?"
)


@functools.lru_cache(maxsize=64)
def _copy_target(sql: str) -> str | None:
    """``"table (columns)"`` of a one-row ``INSERT ... VALUES (?, ...)`` that returns
    nothing (an ``ON CONFLICT ... DO NOTHING`` allowed); ``None`` for any other statement."""
    match = _ONE_ROW_INSERT.fullmatch(sql)
    return None if match is None else match[1]


def _joined_copy(target: str, following: str | None) -> int | None:
    """How many NULL columns to pad the next statement's rows with (``following``: its
    copy target, whatever its number of rows) to copy them with ``target``'s: when it
    inserts into the same table a prefix of its columns; ``None`` otherwise."""
    if following is None:
        return None
    table, _, columns = target.partition(" ")
    next_table, _, next_columns = following.partition(" ")
    mine = columns.strip("()").split(", ")
    theirs = next_columns.strip("()").split(", ")
    if next_table != table or len(theirs) >= len(mine) or mine[: len(theirs)] != theirs:
        return None
    return len(mine) - len(theirs)


class PgCursor:
    """A transaction's cursor."""

    def __init__(self, cursor: psycopg.Cursor[Any], *, whole_queries: bool = False) -> None:
        self._cursor = cursor
        self._whole_queries = whole_queries

    def run(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        self._cursor.execute(qmark_to_format(sql), checked(params))
        return self._cursor.fetchall() if self._cursor.description is not None else []

    def run_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> int:
        return self.run_batch([(sql, rows)])[0]

    def run_batch(self, statements: Sequence[Statement]) -> list[int]:
        """Each statement's rows; a one-row ``INSERT`` from :data:`COPY_FROM_ROWS` rows
        through ``COPY`` (see :meth:`_copies`). ``COPY`` has no ``ON CONFLICT``: should a
        row be there already (a replayed step-log row, a saga created twice), the batch is
        undone to a savepoint taken before its first copy, and the statements from there
        run again as ``executemany``, skipping it as ``ON CONFLICT DO NOTHING`` does. One
        savepoint per batch, not one per copy: each is a round trip to the server."""
        if self._whole_queries:
            return self._run_whole(statements)
        targets = [
            _copy_target(sql) if len(rows) >= COPY_FROM_ROWS else None for sql, rows in statements
        ]
        first = next((i for i, target in enumerate(targets) if target is not None), None)
        if first is None:
            return [self._execute_many(sql, rows) for sql, rows in statements]
        counts = [self._execute_many(sql, rows) for sql, rows in statements[:first]]
        self._cursor.execute("SAVEPOINT sagacrew_copy")
        try:
            counts += self._copies(statements[first:], targets[first:])
        except psycopg.errors.UniqueViolation:
            self._cursor.execute("ROLLBACK TO SAVEPOINT sagacrew_copy")
            counts += [self._execute_many(sql, rows) for sql, rows in statements[first:]]
        return counts

    def _copies(self, statements: Sequence[Statement], targets: list[str | None]) -> list[int]:
        """Each statement's rows, a statement with a copy ``target`` through ``COPY``; when
        the next statement inserts into the same table a prefix of its columns (a batch's
        ``started`` step-log rows after its other ones), its rows go in the same ``COPY``,
        after, padded with NULLs: the same rows in the same order, a round trip less."""
        counts: list[int] = []
        index = 0
        while index < len(statements):
            sql, rows = statements[index]
            target = targets[index]
            if target is None:
                counts.append(self._execute_many(sql, rows))
                index += 1
                continue
            following = statements[index + 1 : index + 2]
            padding = _joined_copy(target, _copy_target(following[0][0]) if following else None)
            if padding is None:
                counts.append(self._copy(target, rows))
                index += 1
                continue
            more = following[0][1]
            nulls = (None,) * padding
            self._copy(target, [*rows, *(tuple(row) + nulls for row in more)])
            counts += [len(rows), len(more)]
            index += 2
        return counts

    def _execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> int:
        # psycopg pipelines an executemany's rows
        self._cursor.executemany(qmark_to_format(sql), [checked(row) for row in rows])
        return self._cursor.rowcount

    def _copy(self, target: str, rows: Sequence[Sequence[Any]]) -> int:
        """``rows`` through ``COPY target FROM STDIN`` (``UniqueViolation`` when one is
        there already: see :meth:`run_batch`); how many rows were inserted. psycopg's work
        per row of a pipelined ``executemany`` cost more than the write itself (half the
        writer thread's CPU per batch, measured)."""
        values = [checked(row) for row in rows]
        with self._cursor.copy(f"COPY {target} FROM STDIN") as copy:
            for row in values:
                copy.write_row(row)
        return len(values)

    def _run_whole(self, statements: Sequence[Statement]) -> list[int]:
        """Every row's statement bound here (``ClientCursor.mogrify``) and sent as one
        simple-protocol query, never a pipeline. For a store shared by workers: a worker
        frozen (SIGSTOP, a long pause) in the middle of an executemany's pipeline leaves
        its backend waiting for the rest, out of reach of
        idle_in_transaction_session_timeout, holding the lease and saga rows its sagas'
        new owner needs until it wakes; a whole query sent, the backend is idle and the
        server ends the transaction after a lease. It costs about half the write rate of
        the pipeline, which a single process (nobody waits on its locks) keeps."""
        texts: list[str] = []
        sizes: list[int] = []
        with psycopg.ClientCursor(self._cursor.connection) as client:
            for sql, rows in statements:
                query = qmark_to_format(sql)
                texts.extend(client.mogrify(query, checked(row)) for row in rows)
                sizes.append(len(rows))
            if not texts:
                return [0 for _ in statements]
            client.execute(";\n".join(texts).encode())
            counts = []
            for size in sizes:
                total = 0
                for _ in range(size):
                    total += max(client.rowcount, 0)
                    client.nextset()
                counts.append(total)
        return counts
