"""The database the verdict reads and writes: the smallest part of the runtime's store.

``sagacrew.runtime.store.Store`` satisfies it; tests use a sqlite3-backed stand-in.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol


class SqlRunner(Protocol):
    """Runs SQL over the runtime's tables and records validations.

    ``query`` takes portable SQL with ``?`` placeholders bound from ``params`` in order
    and returns every row. ``record_validation`` inserts one ``consistency_validations``
    row from keyword arguments named after its columns and returns the new row's id.
    """

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    def record_validation(self, **row: Any) -> int: ...
