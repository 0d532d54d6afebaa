"""PostgreSQL backend: psycopg 3, one connection in autocommit mode plus explicit transactions.

Same semantics as SQLite: the schema (``schema_postgres.sql``) is made on open, or brought
up to date, when it is not current (see ``_pg_schema``); appends take ``LOCK TABLE events
IN EXCLUSIVE MODE`` so global positions commit in order (readers are not blocked); a stale
expected version is detected by the version check or, under a race, by the
``UNIQUE (stream_id, version)`` violation.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import psycopg
import psycopg.errors

from sagacrew.runtime.store._errors import StoreError, StoreUnavailable
from sagacrew.runtime.store._pg_cursor import PgCursor, qmark_to_format
from sagacrew.runtime.store._pg_schema import ensure_schema
from sagacrew.runtime.store._sql import SqlStore
from sagacrew.runtime.store._sql_base import Cursor, UniqueViolation, checked

RECONNECT_MIN_S = 0.05
"""First wait before reconnecting after the connection was lost (doubles each failure)."""
RECONNECT_MAX_S = 2.0
"""Longest wait between two reconnection attempts."""
CONNECT_TIMEOUT_S = 2
"""How long one connection attempt may take (libpq ``connect_timeout``, seconds)."""


def _plain(value: Any) -> Any:
    return float(value) if isinstance(value, Decimal) else value


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


class _Link:
    """One connection to the server and its healing: reconnects on a later call after the
    connection was lost, no more often than the backoff allows."""

    def __init__(self, url: str, where: str, settings: Mapping[str, str]) -> None:
        self.url = url
        self.where = where
        self.settings = dict(settings)
        self.lock = threading.Lock()
        self.conn: psycopg.Connection[Any] | None = None
        self.closed = False
        self.available = True
        self.backoff_s = RECONNECT_MIN_S
        self.next_attempt = 0.0
        self.last_error = ""

    def connect(self) -> psycopg.Connection[Any]:
        conn = psycopg.connect(self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)
        for name, value in self.settings.items():
            conn.execute("SELECT set_config(%s, %s, false)", (name, value))
        return conn

    def connection(self) -> psycopg.Connection[Any]:
        """The live connection, reconnecting when the last one was lost (caller holds
        the lock); :class:`StoreUnavailable` while the server cannot be reached."""
        if self.closed:
            raise StoreError(f"the store on {self.where} is closed", fix="open a new store")
        conn = self.conn
        if conn is not None and not conn.closed and not conn.broken:
            return conn
        now = time.monotonic()
        if now < self.next_attempt:
            raise self.unavailable(self.next_attempt - now)
        try:
            self.conn = self.connect()
        except psycopg.Error as exc:
            self.last_error = _first_line(exc)
            self.next_attempt = now + self.backoff_s
            retry_after = self.backoff_s
            self.backoff_s = min(self.backoff_s * 2, RECONNECT_MAX_S)
            raise self.unavailable(retry_after) from exc
        self.available = True
        self.backoff_s = RECONNECT_MIN_S
        self.next_attempt = 0.0
        return self.conn

    def unavailable(self, retry_after_s: float) -> StoreUnavailable:
        self.available = False
        return StoreUnavailable(
            f"PostgreSQL on {self.where} is unavailable ({self.last_error or 'connection lost'})",
            fix="wait for the server to come back (the store reconnects by itself), or check "
            "the server and the URL",
            retry_after_s=max(retry_after_s, RECONNECT_MIN_S),
        )

    def failed(self, exc: psycopg.Error) -> StoreError:
        """Translate a driver error; a lost connection makes the link unavailable."""
        conn = self.conn
        lost = conn is None or conn.closed or conn.broken
        if lost or (isinstance(exc, psycopg.OperationalError) and _is_connection_error(exc)):
            self.last_error = _first_line(exc)
            if conn is not None and not conn.closed:
                conn.close()
            self.next_attempt = 0.0  # the first reconnect is tried on the next call
            return self.unavailable(RECONNECT_MIN_S)
        return _translate(exc, self.where)

    def close(self) -> None:
        with self.lock:
            self.closed = True
            if self.conn is not None:
                self.conn.close()


class PostgresStore(SqlStore):
    """A store in a PostgreSQL database given by a libpq URL.

    The URL may select a schema with ``?options=-csearch_path%3Dname`` (the schema must
    exist); tables are created there on open.

    The connection heals: when it is lost (the server restarted, the backend was
    terminated, the network dropped), the call fails with :class:`StoreUnavailable` and
    the store reconnects on a later call, no more often than a backoff that doubles from
    ``RECONNECT_MIN_S`` to ``RECONNECT_MAX_S``; until then calls fail at once without
    I/O. A write whose commit was cut off has an unknown outcome: it raises
    :class:`StoreUnavailable` too, and the saga tables make replaying it a no-op. The
    writer thread (:meth:`writer_thread`) has a connection of its own, healing the same
    way. ``settings`` are server settings of every connection (``set_config``), e.g. a
    worker's ``idle_in_transaction_session_timeout``; with them the store is taken as
    shared by workers, and its batches are sent as whole queries, not pipelines.
    """

    _skip_locked = " FOR UPDATE SKIP LOCKED"
    _lock_rows = " FOR UPDATE"
    _share_lock = " FOR SHARE"

    def __init__(
        self,
        url: str,
        *,
        clock: Callable[[], float] = time.time,
        settings: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(clock=clock)
        self._url = url
        self._where = url.split("@")[-1]  # never echo a password
        self._main = _Link(url, self._where, settings or {})
        self._writer_link = _Link(url, self._where, settings or {})
        # Settings (a worker's timeouts) mean other workers share this store: batches are
        # then sent as whole queries (see PgCursor._run_whole).
        self._shared = bool(settings)
        try:
            self._main.conn = self._main.connect()
            ensure_schema(self._main.conn)
        except psycopg.Error as exc:
            raise _translate(exc, self._where) from exc

    @property
    def available(self) -> bool:
        return self._main.available

    def _link(self) -> _Link:
        """The writer thread's link when called from it, else the main one."""
        writer = self._writer_thread
        return self._writer_link if writer is not None and writer.here else self._main

    @contextmanager
    def _transaction(self) -> Iterator[Cursor]:
        link = self._link()
        with link.lock:
            conn = link.connection()
            try:
                with conn.transaction(), conn.cursor() as cursor:
                    yield PgCursor(cursor, whole_queries=self._shared)
            except psycopg.Error as exc:
                raise link.failed(exc) from exc

    def _lock_events(self, cursor: Cursor) -> None:
        cursor.run("LOCK TABLE events IN EXCLUSIVE MODE")

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        link = self._main
        with link.lock:
            conn = link.connection()
            try:
                return conn.execute(qmark_to_format(sql), checked(params)).fetchall()
            except psycopg.Error as exc:
                raise link.failed(exc) from exc

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        link = self._main
        with link.lock:
            conn = link.connection()
            try:
                with conn.transaction(), conn.cursor() as cursor:
                    cursor.execute("SET TRANSACTION READ ONLY")
                    cursor.execute(qmark_to_format(sql), checked(params))
                    rows = cursor.fetchall() if cursor.description is not None else []
            except psycopg.Error as exc:
                failed = link.failed(exc)
                if isinstance(failed, StoreUnavailable):
                    raise failed from exc
                raise StoreError(
                    f"query failed on {self._where}: {exc}; SQL: {' '.join(sql.split())}",
                    fix="use read-only SQL over the tables and columns of schema.sql",
                ) from exc
        return [tuple(_plain(value) for value in row) for row in rows]

    def close(self) -> None:
        self._stop_writer_thread()
        self._writer_link.close()
        self._main.close()
