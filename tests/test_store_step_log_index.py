"""The step log has one index, keyed by saga: it serves a saga's reads and refuses a
replayed row; a store made with the two it replaced gets it when opened again."""

from __future__ import annotations

import sqlite3
from contextlib import closing

import pytest
from saga_fakes import saga_row
from saga_fakes import step_entry

from sagacrew.runtime.store import SagaTransition
from sagacrew.runtime.store import open_store

EARLIER = (
    "DROP INDEX saga_step_log_attempts",
    "CREATE INDEX saga_step_log_saga ON saga_step_log (saga_id, step_index)",
    "CREATE UNIQUE INDEX saga_step_log_once ON saga_step_log (idempotency_key, status)",
)
SQLITE_INDEXES = "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?"
POSTGRES_INDEXES = (
    "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND tablename = %s"
)


def _write_and_replay(url: str) -> int:
    """Write saga s-1's first step twice (a batch replayed); the rows the log keeps."""
    started = step_entry("s-1", 0, "reserve", "forward", "started")
    with closing(open_store(url)) as store:
        batch = [SagaTransition(create=saga_row("s-1", "running", 0.0), step=started)]
        store.apply_saga_transitions(batch)
        store.apply_saga_transitions(batch)
        return len(store.step_log("s-1"))


def test_a_sqlite_store_made_with_the_earlier_indexes_gets_the_one_index(
    sqlite_url: str,
) -> None:
    path = sqlite_url.removeprefix("sqlite://")
    open_store(sqlite_url).close()
    with closing(sqlite3.connect(path)) as conn:
        for sql in EARLIER:
            conn.execute(sql)
        conn.commit()
    assert _write_and_replay(sqlite_url) == 1
    with closing(sqlite3.connect(path)) as conn:
        names = {row[0] for row in conn.execute(SQLITE_INDEXES, ("saga_step_log",))}
    assert names == {"saga_step_log_attempts"}


@pytest.mark.postgres
def test_a_postgres_store_made_with_the_earlier_indexes_gets_the_one_index(
    postgres_url: str,
) -> None:
    import psycopg

    open_store(postgres_url).close()
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        for sql in (*EARLIER, "DROP TABLE sagacrew_schema"):  # made before it was recorded
            conn.execute(sql.encode())
    assert _write_and_replay(postgres_url) == 1
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        names = {row[0] for row in conn.execute(POSTGRES_INDEXES, ("saga_step_log",))}
    assert names == {"saga_step_log_pkey", "saga_step_log_attempts"}
