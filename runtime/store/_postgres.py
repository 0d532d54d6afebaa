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

from sagacrew.runtime.store._errors import StoreError, StoreUnavailable
from sagacrew.runtime.store._sql import SqlStore
from sagacrew.runtime.store._sql_base import Cursor, UniqueViolation, checked
from sagacrew.runtime.store._sqlite import schema_sql

_SCHEMA_LOCK_ID = 0x5A6A_C5E0  # pg_advisory_xact_lock key for schema creation

RECONNECT_MIN_S = 0.05
"""First wait before reconnecting after the connection was lost (doubles each failure)."""
RECONNECT_MAX_S = 2.0
"""Longest wait between two reconnection attempts."""
CONNECT_TIMEOUT_S = 2
"""How long one connection attempt may take (libpq ``connect_timeout``, seconds)."""


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
        self._cursor.execute(qmark_to_format(sql), checked(params))
        return self._cursor.fetchall() if self._cursor.description is not None else []


def _first_line(exc: BaseException) -> str:
    """The first line of a driver error's message ("" when it has none)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""


def _is_connection_error(exc: psycopg.OperationalError) -> bool:
    """True for errors that mean the server or the connection went away (class 08
    connection exceptions, 57P0x shutdowns), not a failed statement."""
    state = getattr(exc, "sqlstate", None) or ""
    return state == "" or state.startswith("08") or state.startswith("57P")


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

    The connection heals: when it is lost (the server restarted, the backend was
    terminated, the network dropped), the call fails with :class:`StoreUnavailable` and
    the store reconnects on a later call, no more often than a backoff that doubles from
    ``RECONNECT_MIN_S`` to ``RECONNECT_MAX_S``; until then calls fail at once without
    I/O. A write whose commit was cut off has an unknown outcome: it raises
    :class:`StoreUnavailable` too, and the saga tables make replaying it a no-op.
    """

    def __init__(self, url: str, *, clock: Callable[[], float] = time.time) -> None:
        super().__init__(clock=clock)
        self._url = url
        self._where = url.split("@")[-1]  # never echo a password
        self._lock = threading.Lock()
        self._conn: psycopg.Connection[Any] | None = None
        self._closed = False
        self._available = True
        self._backoff_s = RECONNECT_MIN_S
        self._next_attempt = 0.0
        self._last_error = ""
        try:
            self._conn = self._connect()
            with self._conn.transaction():
                self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK_ID,))
                self._conn.execute(schema_sql("schema_postgres.sql").encode())
        except psycopg.Error as exc:
            raise _translate(exc, self._where) from exc

    def _connect(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self._url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)

    def _connection(self) -> psycopg.Connection[Any]:
        """The live connection, reconnecting when the last one was lost (caller holds
        the lock); :class:`StoreUnavailable` while the server cannot be reached."""
        if self._closed:
            raise StoreError(f"the store on {self._where} is closed", fix="open a new store")
        conn = self._conn
        if conn is not None and not conn.closed and not conn.broken:
            return conn
        now = time.monotonic()
        if now < self._next_attempt:
            raise self._unavailable(self._next_attempt - now)
        try:
            self._conn = self._connect()
        except psycopg.Error as exc:
            self._last_error = _first_line(exc)
            self._next_attempt = now + self._backoff_s
            retry_after = self._backoff_s
            self._backoff_s = min(self._backoff_s * 2, RECONNECT_MAX_S)
            raise self._unavailable(retry_after) from exc
        self._available = True
        self._backoff_s = RECONNECT_MIN_S
        self._next_attempt = 0.0
        return self._conn

    def _unavailable(self, retry_after_s: float) -> StoreUnavailable:
        self._available = False
        return StoreUnavailable(
            f"PostgreSQL on {self._where} is unavailable ({self._last_error or 'connection lost'})",
            fix="wait for the server to come back (the store reconnects by itself), or check "
            "the server and the URL",
            retry_after_s=max(retry_after_s, RECONNECT_MIN_S),
        )

    def _failed(self, exc: psycopg.Error) -> StoreError:
        """Translate a driver error; a lost connection makes the store unavailable."""
        conn = self._conn
        lost = conn is None or conn.closed or conn.broken
        if lost or (isinstance(exc, psycopg.OperationalError) and _is_connection_error(exc)):
            self._last_error = _first_line(exc)
            if conn is not None and not conn.closed:
                conn.close()
            self._next_attempt = 0.0  # the first reconnect is tried on the next call
            return self._unavailable(RECONNECT_MIN_S)
        return _translate(exc, self._where)

    @contextmanager
    def _transaction(self) -> Iterator[Cursor]:
        with self._lock:
            conn = self._connection()
            try:
                with conn.transaction(), conn.cursor() as cursor:
                    yield _PgCursor(cursor)
            except psycopg.Error as exc:
                raise self._failed(exc) from exc

    def _lock_events(self, cursor: Cursor) -> None:
        cursor.run("LOCK TABLE events IN EXCLUSIVE MODE")

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            conn = self._connection()
            try:
                return conn.execute(qmark_to_format(sql), checked(params)).fetchall()
            except psycopg.Error as exc:
                raise self._failed(exc) from exc

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            conn = self._connection()
            try:
                with conn.transaction(), conn.cursor() as cursor:
                    cursor.execute("SET TRANSACTION READ ONLY")
                    cursor.execute(qmark_to_format(sql), checked(params))
                    rows = cursor.fetchall() if cursor.description is not None else []
            except psycopg.Error as exc:
                failed = self._failed(exc)
                if isinstance(failed, StoreUnavailable):
                    raise failed from exc
                raise StoreError(
                    f"query failed on {self._where}: {exc}; SQL: {' '.join(sql.split())}",
                    fix="use read-only SQL over the tables and columns of schema.sql",
                ) from exc
        return [tuple(_plain(value) for value in row) for row in rows]

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._conn is not None:
                self._conn.close()
