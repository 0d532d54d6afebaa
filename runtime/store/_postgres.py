"""PostgreSQL backend: psycopg 3, one connection in autocommit mode plus explicit transactions.

Same semantics as SQLite: the schema (``schema_postgres.sql``) is made on open, or brought
up to date, when it is not current (see ``_pg_schema``); appends take ``LOCK TABLE events
IN EXCLUSIVE MODE`` so global positions commit in order (readers are not blocked); a stale
expected version is detected by the version check or, under a race, by the
``UNIQUE (stream_id, version)`` violation.
"""

from __future__ import annotations

import functools
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import psycopg
import psycopg.errors

from sagacrew.runtime.store._errors import StoreError, StoreUnavailable
from sagacrew.runtime.store._pg_schema import ensure_schema
from sagacrew.runtime.store._sql import SqlStore
from sagacrew.runtime.store._sql_base import Cursor, Statement, UniqueViolation, checked

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


COPY_FROM_ROWS = 8
"""From how many rows a batch's ``INSERT`` is sent as a ``COPY`` (see ``_PgCursor._copy``)."""

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


def _plain(value: Any) -> Any:
    return float(value) if isinstance(value, Decimal) else value


class _PgCursor:
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
        through ``COPY`` (see :meth:`_copy`). ``COPY`` has no ``ON CONFLICT``: should a row
        be there already (a replayed step-log row, a saga created twice), the batch is
        undone to a savepoint taken before its first copy, and the statements from there
        run again as ``executemany``, skipping it as ``ON CONFLICT DO NOTHING`` does. One
        savepoint per batch, not one per copy: each is a round trip to the server, and a
        batch of transitions makes up to three copies (new sagas, step-log rows, starts)."""
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
            index = first
            while index < len(statements):
                sql, rows = statements[index]
                target = targets[index]
                if target is None:
                    counts.append(self._execute_many(sql, rows))
                    index += 1
                    continue
                after = index + 1 < len(statements)
                joined = _joined_copy(
                    target, _copy_target(statements[index + 1][0]) if after else None
                )
                if joined is None:
                    counts.append(self._copy(target, rows))
                    index += 1
                    continue
                # The next statement's rows fill a prefix of this one's columns (a batch's
                # "started" rows after its other step-log rows): one COPY for both, its
                # rows padded with NULLs, in the same order (a round trip less).
                _, more = statements[index + 1]
                padding = (None,) * joined
                self._copy(target, [*rows, *(tuple(row) + padding for row in more)])
                counts.extend((len(rows), len(more)))
                index += 2
        except psycopg.errors.UniqueViolation:
            self._cursor.execute("ROLLBACK TO SAVEPOINT sagacrew_copy")
            del counts[first:]
            counts.extend(self._execute_many(sql, rows) for sql, rows in statements[first:])
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
        # then sent as whole queries (see _PgCursor._run_whole).
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
                    yield _PgCursor(cursor, whole_queries=self._shared)
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
