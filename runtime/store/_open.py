"""``open_store(url)``: pick a backend from a URL."""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import parse_qs

from sagacrew.runtime.store._base import Store
from sagacrew.runtime.store._errors import StoreError

_FORMS = (
    "sqlite:///abs/path/file.db, sqlite://relative/file.db, sqlite://:memory:, "
    "postgresql://user@host:port/db"
)


def open_store(url: str, *, clock: Callable[[], float] = time.time) -> Store:
    """Open (and create the schema of) the store at ``url``.

    - ``sqlite:///path/to/file.db``: the text after ``sqlite://`` is the file path (so three
      slashes give an absolute path, two a relative one); ``sqlite://:memory:`` is a private
      in-memory database (one connection). Query options: ``synchronous`` (default ``FULL``;
      ``NORMAL`` trades the last transactions on power loss for speed) and
      ``busy_timeout_ms`` (default 5000).
    - ``postgresql://user@host:port/db`` (or ``postgres://``): passed to psycopg as is.

    ``clock`` (seconds since the epoch) stamps ``recorded_at``, ``taken_at`` and friends.
    """
    if url.startswith("sqlite://"):
        from sagacrew.runtime.store._sqlite import SqliteStore

        path, _, query = url.removeprefix("sqlite://").partition("?")
        if not path:
            raise StoreError(f"SQLite URL {url!r} names no file", fix=f"write one of: {_FORMS}")
        options = {key: values[-1] for key, values in parse_qs(query).items()}
        unknown = sorted(set(options) - {"synchronous", "busy_timeout_ms"})
        if unknown:
            raise StoreError(
                f"unknown SQLite URL options {unknown} in {url!r}",
                fix="use only ?synchronous=FULL|NORMAL and &busy_timeout_ms=<int>",
            )
        try:
            busy_timeout_ms = int(options.get("busy_timeout_ms", "5000"))
        except ValueError as exc:
            raise StoreError(
                f"busy_timeout_ms in {url!r} is not an integer",
                fix="write e.g. busy_timeout_ms=5000",
            ) from exc
        return SqliteStore(
            path,
            synchronous=options.get("synchronous", "FULL"),
            busy_timeout_ms=busy_timeout_ms,
            clock=clock,
        )
    if url.startswith(("postgresql://", "postgres://")):
        from sagacrew.runtime.store._postgres import PostgresStore

        return PostgresStore(url, clock=clock)
    raise StoreError(f"unsupported store URL {url!r}", fix=f"write one of: {_FORMS}")
