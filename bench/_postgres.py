"""PostgreSQL for the benchmarks: a throwaway cluster started as the tests start theirs,
but durable (fsync, full_page_writes and synchronous_commit at their defaults: on), and a
fresh schema per measured run."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from postgres_server import _PORT, INSTALL_HINT, PostgresServer, find_bin_dir

__all__ = ["INSTALL_HINT", "DurableServer", "find_bin_dir", "fresh_schema"]


class DurableServer(PostgresServer):
    """The tests' throwaway cluster (unix socket only) without their durability shortcuts."""

    def restart(self) -> None:
        options = f"-k {self.root} -p {_PORT} -c listen_addresses=''"
        self._run(
            "pg_ctl", "-D", str(self.data_dir), "-l", str(self.root / "server.log"),
            "-o", options, "-w", "-t", "60", "start",
        )  # fmt: skip


@contextmanager
def fresh_schema(url: str) -> Iterator[tuple[str, str]]:
    """A new empty schema on the server at ``url``: (a URL whose search_path is that
    schema, its name); dropped afterwards."""
    import psycopg

    schema = f"bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in url else "?"
    try:
        yield f"{url}{separator}options=-csearch_path%3D{schema}", schema
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
