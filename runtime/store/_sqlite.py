"""SQLite backend: stdlib ``sqlite3``, one connection, WAL, ``synchronous=FULL`` by default."""

from __future__ import annotations

import functools
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from importlib import resources
from typing import Any

from sagacrew.runtime.store._checkpoint import BACKSTOP_PAGES, WalCheckpointer
from sagacrew.runtime.store._errors import StoreError
from sagacrew.runtime.store._sql import SqlStore
from sagacrew.runtime.store._sql_base import Cursor, Statement, UniqueViolation, checked

SYNCHRONOUS_LEVELS = ("OFF", "NORMAL", "FULL", "EXTRA")


def _null(value: None) -> None:
    return value


# ``sqlite3`` binds a str, int or float at once, but first offers any other value (None
# too) to the adapter protocol, whose failed ``__conform__`` lookup costs more than the
# rest of the binding: a step-log row has up to four NULLs. Adapting None to itself is
# what the protocol does anyway (None binds as NULL), found in one dict lookup.
sqlite3.register_adapter(type(None), _null)


def schema_sql(name: str = "schema.sql") -> str:
    """The DDL shipped with the package (``schema.sql`` or ``schema_postgres.sql``)."""
    return resources.files("sagacrew.runtime.store").joinpath(name).read_text(encoding="utf-8")


class _SqliteCursor:
    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    def run(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._cursor.execute(sql, checked(params)).fetchall()

    def run_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> int:
        self._cursor.executemany(sql, [checked(row) for row in rows])
        return self._cursor.rowcount

    def run_batch(self, statements: Sequence[Statement]) -> list[int]:
        return [self.run_many(sql, rows) for sql, rows in statements]


def _translate(exc: sqlite3.Error, path: str) -> StoreError:
    if isinstance(exc, sqlite3.IntegrityError) and "UNIQUE" in str(exc).upper():
        return UniqueViolation(f"unique constraint violated: {exc}", fix="use a fresh key")
    if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
        return StoreError(
            f"SQLite database {path!r} stayed locked by another process: {exc}",
            fix="stop the other writer or raise busy_timeout_ms in the store URL",
        )
    return StoreError(
        f"SQLite error on {path!r}: {exc}",
        fix="check the file is a sagacrew store, writable, and on a local disk",
    )


def _open(path: str, busy_timeout_ms: int, level: str) -> sqlite3.Connection:
    """A connection to the store at ``path``: autocommit (transactions are explicit), usable
    from any thread, with the store's busy timeout and ``synchronous`` level."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {busy_timeout_ms}")
    conn.execute(f"PRAGMA synchronous = {level}")
    return conn


class SqliteStore(SqlStore):
    """A store in one SQLite file (or ``:memory:``, a private in-process database).

    ``synchronous`` is SQLite's durability level (default ``FULL``: a committed
    transition survives power loss); ``busy_timeout_ms`` (default 5000) is how long a
    write waits for another process's lock. The schema is created on open. One
    connection is shared under a lock, so the store may be called from any thread; the
    writer thread (:meth:`writer_thread`) writes on a second one.
    """

    def __init__(
        self,
        path: str,
        *,
        synchronous: str = "FULL",
        busy_timeout_ms: int = 5000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(clock=clock)
        level = synchronous.upper()
        if level not in SYNCHRONOUS_LEVELS:
            raise StoreError(
                f"unknown SQLite synchronous level {synchronous!r}",
                fix=f"use one of {', '.join(SYNCHRONOUS_LEVELS)}",
            )
        self.path = path
        self._level = level
        self._busy_timeout_ms = int(busy_timeout_ms)
        self._lock = threading.Lock()
        self._writer_conn: sqlite3.Connection | None = None
        self._writer_lock = threading.Lock()
        self._checkpointer: WalCheckpointer | None = None
        try:
            self._conn = self._connect()
            if path != ":memory:":
                self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.executescript(schema_sql())
            _add_missing_columns(self._conn)
        except sqlite3.Error as exc:
            raise _translate(exc, path) from exc

    def _connect(self) -> sqlite3.Connection:
        return _open(self.path, self._busy_timeout_ms, self._level)

    def _link(self) -> tuple[sqlite3.Connection, threading.Lock]:
        """The connection (and its lock) for a write from this thread: the writer thread
        has one of its own (WAL lets the other connection read meanwhile), whose commits
        leave WAL checkpoints to a :class:`WalCheckpointer`; a private ``:memory:``
        database has only one connection."""
        writer = self._writer_thread
        if writer is None or not writer.here or self.path == ":memory:":
            return self._conn, self._lock
        if self._writer_conn is None:
            try:
                conn = self._connect()
                conn.execute(f"PRAGMA wal_autocheckpoint = {BACKSTOP_PAGES}")
            except sqlite3.Error as exc:
                raise _translate(exc, self.path) from exc
            # The checkpointer holds no reference to the store: a store dropped unclosed is
            # still collected, and its checkpointer then stops.
            opener = functools.partial(_open, self.path, self._busy_timeout_ms, self._level)
            self._checkpointer = WalCheckpointer(opener)
            weakref.finalize(self, self._checkpointer.stop)
            self._writer_conn = conn
        return self._writer_conn, self._writer_lock

    @contextmanager
    def _transaction(self) -> Iterator[Cursor]:
        conn, lock = self._link()
        with lock:
            cursor = conn.cursor()
            try:
                cursor.execute("BEGIN IMMEDIATE")
                yield _SqliteCursor(cursor)
                cursor.execute("COMMIT")
                if conn is self._writer_conn and self._checkpointer is not None:
                    self._checkpointer.committed()
            except sqlite3.Error as exc:
                if conn.in_transaction:
                    conn.rollback()
                raise _translate(exc, self.path) from exc
            except BaseException:
                if conn.in_transaction:
                    conn.rollback()
                raise
            finally:
                cursor.close()

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return self._conn.execute(sql, checked(params)).fetchall()
            except sqlite3.Error as exc:
                raise _translate(exc, self.path) from exc

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            self._conn.execute("PRAGMA query_only = ON")
            try:
                return self._conn.execute(sql, checked(params)).fetchall()
            except sqlite3.Error as exc:
                raise StoreError(
                    f"query failed on {self.path!r}: {exc}; SQL: {' '.join(sql.split())}",
                    fix="use read-only SQL over the tables and columns of schema.sql",
                ) from exc
            finally:
                if self._conn.in_transaction:
                    self._conn.rollback()
                self._conn.execute("PRAGMA query_only = OFF")

    def close(self) -> None:
        self._stop_writer_thread()
        if self._checkpointer is not None:
            self._checkpointer.close()
        with self._writer_lock:
            if self._writer_conn is not None:
                self._writer_conn.close()
        with self._lock:
            self._conn.close()


_ADDED_COLUMNS = (
    ("saga_executions", "definition_version", "TEXT NOT NULL DEFAULT ''"),
    ("saga_workers", "actors_epoch", "BIGINT NOT NULL DEFAULT 0"),
)
"""Columns added since a store's tables may have been created (SQLite has no ``ADD COLUMN
IF NOT EXISTS``; schema_postgres.sql says it in SQL)."""


def _add_missing_columns(conn: sqlite3.Connection) -> None:
    for table, column, declaration in _ADDED_COLUMNS:
        present = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
        if column not in present:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")
