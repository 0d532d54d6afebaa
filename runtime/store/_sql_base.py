"""What the SQL store's parts share: the backend hooks (a write transaction, a read), the
cursor protocol, the internal unique-violation error and the WHERE-clause helper."""

from __future__ import annotations

import time
from abc import abstractmethod
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any, ClassVar, NoReturn, Protocol

from sagacrew.runtime.store._base import Store
from sagacrew.runtime.store._errors import StoreError


class UniqueViolation(StoreError):
    """A backend's translation of a UNIQUE / PRIMARY KEY violation (internal)."""


Statement = tuple[str, Sequence[Sequence[Any]]]
"""One statement and the rows of parameters it runs for (see :meth:`Cursor.run_batch`)."""


class Cursor(Protocol):
    """What a backend's transaction yields: run one statement, get all its rows; run one
    statement for many rows of parameters, get how many rows it changed; or run several
    such statements in order, in one round trip where the backend can (PostgreSQL's
    pipeline), and get how many rows each changed."""

    def run(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    def run_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> int: ...

    def run_batch(self, statements: Sequence[Statement]) -> list[int]: ...


class SqlBase(Store):
    """The backend hooks every part of :class:`~sagacrew.runtime.store._sql.SqlStore` uses;
    ``clock`` stamps ``recorded_at`` and friends."""

    _skip_locked: ClassVar[str] = ""
    """Appended to the claim's SELECT: ``FOR UPDATE SKIP LOCKED`` where the backend has row
    locks (PostgreSQL); SQLite's single writer needs none."""
    _lock_rows: ClassVar[str] = ""
    """Appended to a SELECT whose rows are then updated: ``FOR UPDATE`` where the backend
    has row locks (taken in the SELECT's order: one order for every lease writer)."""
    _share_lock: ClassVar[str] = ""
    """Appended to a fence check's SELECT: ``FOR SHARE`` where the backend has row locks,
    so that a claim waits for the transition being written under the old lease."""

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


_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1


def checked(params: Sequence[Any]) -> tuple[Any, ...]:
    """``params`` as a tuple, refused the same way on every backend when a value cannot be
    stored: text with a NUL character (PostgreSQL cannot hold it) or an integer outside
    64 bits (SQLite cannot). (Exact types first: it runs for every value written.)"""
    for value in params:
        kind = type(value)
        if kind is str:
            if "\x00" in value:
                _refuse_text(value)
        elif kind is int:
            if not _INT_MIN <= value <= _INT_MAX:
                _refuse_integer(value)
        elif kind is float or value is None or kind is bool:
            continue
        elif isinstance(value, str):
            if "\x00" in value:
                _refuse_text(value)
        elif isinstance(value, int) and not _INT_MIN <= value <= _INT_MAX:
            _refuse_integer(value)
    return tuple(params)


def _refuse_text(value: str) -> NoReturn:
    raise StoreError(
        f"text value {value[:40]!r} contains a NUL character",
        fix="remove NUL (\\x00) characters from ids and text",
    )


def _refuse_integer(value: int) -> NoReturn:
    raise StoreError(
        f"integer {value} does not fit in 64 bits",
        fix=f"use an integer between {_INT_MIN} and {_INT_MAX}",
    )


def _filters(*, table: str = "", **equal: str | None) -> tuple[str, tuple[Any, ...]]:
    """A WHERE clause matching every non-None keyword (column = value), the columns
    prefixed with ``table`` (e.g. ``"s."``) when given."""
    used = {column: value for column, value in equal.items() if value is not None}
    if not used:
        return "", ()
    clauses = " AND ".join(f"{table}{column} = ?" for column in used)
    return f" WHERE {clauses}", tuple(used.values())
