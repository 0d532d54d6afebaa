"""Opening a PostgreSQL store runs its schema script only when the schema is not current:
a store opening beside a write transaction in progress does not wait for it (nor make
every writer after it wait), and a schema made by an earlier version is brought up to date."""

from __future__ import annotations

import threading
from contextlib import closing

import psycopg
import pytest

from sagacrew.runtime.store import open_store

pytestmark = pytest.mark.postgres


def _open_in_a_thread(url: str) -> threading.Event:
    opened = threading.Event()

    def open_and_close() -> None:
        open_store(url).close()
        opened.set()

    threading.Thread(target=open_and_close, daemon=True).start()
    return opened


def test_a_store_opens_while_another_connection_holds_a_write_transaction(
    postgres_url: str,
) -> None:
    open_store(postgres_url).close()
    with psycopg.connect(postgres_url) as writer:  # a transaction left open
        writer.execute(
            "INSERT INTO saga_step_log (saga_id, step_index, step_name, phase, status, "
            "attempt, idempotency_key, started_at, correlation_id, causation_id) "
            "VALUES ('s', 0, 'a', 'forward', 'started', 1, 's:0:forward:1', 0, 'c', 'c')"
        )
        assert _open_in_a_thread(postgres_url).wait(5), "the open waited for the writer"
        writer.rollback()


def test_a_schema_made_by_an_earlier_version_is_brought_up_to_date(postgres_url: str) -> None:
    open_store(postgres_url).close()
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("DROP INDEX saga_step_log_attempts")
        conn.execute("UPDATE sagacrew_schema SET fingerprint = 'earlier'")
    with closing(open_store(postgres_url)):
        pass
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        indexes = conn.execute(
            "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() "
            "AND tablename = 'saga_step_log'"
        ).fetchall()
        (fingerprint,) = conn.execute("SELECT fingerprint FROM sagacrew_schema").fetchone() or ("",)
    assert ("saga_step_log_attempts",) in indexes
    assert fingerprint != "earlier"
