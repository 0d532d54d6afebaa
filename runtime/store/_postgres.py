"""PostgreSQL backend: psycopg 3, one connection in autocommit mode plus explicit transactions.

Same semantics as SQLite: the schema (``schema_postgres.sql``) is created on open under an
advisory lock; appends take ``LOCK TABLE events IN EXCLUSIVE MODE`` so global positions
commit in order (readers are not blocked); a stale expected version is detected by the
version check or, under a race, by the ``UNIQUE (stream_id, version)`` violation.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import psycopg
import psycopg.errors

from sagacrew.runtime.store._errors import StoreError
from sagacrew.runtime.store._sql import SqlStore
from sagacrew.runtime.store._sql_base import Cursor, UniqueViolation
from sagacrew.runtime.store._sqlite import schema_sql

_SCHEMA_LOCK_ID = 0x5A6A_C5E0  # pg_advisory_xact_lock key for schema creation


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


def _plain(value: Any) -> Any:
    return float(value) if isinstance(value, Decimal) else value


class _PgCursor:
    def __init__(self, cursor: psycopg.Cursor[Any]) -> None:
        self._cursor = cursor

    def run(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        self._cursor.execute(qmark_to_format(sql), tuple(params))
        return self._cursor.fetchall() if self._cursor.description is not None else []


def _translate(exc: psycopg.Error, where: str) -> StoreError:
    if isinstance(exc, psycopg.errors.UniqueViolation):
        return UniqueViolation(f"unique constraint violated: {exc}", fix="use a fresh key")
    if isinstance(exc, psycopg.OperationalError):
        return StoreError(
            f"PostgreSQL connection to {where} failed: {exc}".strip(),
            fix="check the server is running and the URL (user, host, port, database)",
        )
    return StoreError(
        f"PostgreSQL error on {where}: {exc}".strip(),
        fix="check the database holds the sagacrew schema (schema_postgres.sql)",
    )


class PostgresStore(SqlStore):
    """A store in a PostgreSQL database given by a libpq URL.

    The URL may select a schema with ``?options=-csearch_path%3Dname`` (the schema must
    exist); tables are created there on open.
    """

    def __init__(self, url: str, *, clock: Callable[[], float] = time.time) -> None:
        super().__init__(clock=clock)
        self._where = url.split("@")[-1]  # never echo a password
        self._lock = threading.Lock()
        try:
            self._conn = psycopg.connect(url, autocommit=True)
            with self._conn.transaction():
                self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK_ID,))
                self._conn.execute(schema_sql("schema_postgres.sql").encode())
        except psycopg.Error as exc:
            raise _translate(exc, self._where) from exc

    @contextmanager
    def _transaction(self) -> Iterator[Cursor]:
        with self._lock:
            try:
                with self._conn.transaction(), self._conn.cursor() as cursor:
                    yield _PgCursor(cursor)
            except psycopg.Error as exc:
                raise _translate(exc, self._where) from exc

    def _lock_events(self, cursor: Cursor) -> None:
        cursor.run("LOCK TABLE events IN EXCLUSIVE MODE")

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return self._conn.execute(qmark_to_format(sql), tuple(params)).fetchall()
            except psycopg.Error as exc:
                raise _translate(exc, self._where) from exc

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                with self._conn.transaction(), self._conn.cursor() as cursor:
                    cursor.execute("SET TRANSACTION READ ONLY")
                    cursor.execute(qmark_to_format(sql), tuple(params))
                    rows = cursor.fetchall() if cursor.description is not None else []
            except psycopg.Error as exc:
                raise StoreError(
                    f"query failed on {self._where}: {exc}; SQL: {' '.join(sql.split())}",
                    fix="use read-only SQL over the tables and columns of schema.sql",
                ) from exc
        return [tuple(_plain(value) for value in row) for row in rows]

    def close(self) -> None:
        with self._lock:
            self._conn.close()
