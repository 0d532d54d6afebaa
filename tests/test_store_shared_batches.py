"""A PostgreSQL store shared by workers (opened with a worker's settings) writes each batch
as one whole query, never a psycopg pipeline, so that a worker frozen mid-batch leaves an
idle transaction the server ends after the lease; its results are those of the pipelined
path a single process keeps."""

from __future__ import annotations

from contextlib import closing
from typing import Any

import psycopg
import pytest
from saga_fakes import saga_row
from saga_fakes import step_entry

from sagacrew.runtime.store import PostgresStore
from sagacrew.runtime.store import SagaTransition
from sagacrew.runtime.store import SagaUpdate

pytestmark = pytest.mark.postgres

WORKER = {"idle_in_transaction_session_timeout": "5s", "statement_timeout": "5s"}


def batch(prefix: str) -> list[SagaTransition]:
    return [
        SagaTransition(
            create=saga_row(f"{prefix}-{i}", "running", 100.0 + i),
            step=step_entry(f"{prefix}-{i}", 0, "a", "forward", "started"),
        )
        for i in range(5)
    ]


def test_a_shared_store_writes_batches_as_whole_queries_with_the_same_results(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = psycopg.Cursor.executemany
    pipelined = []

    def counted(self: psycopg.Cursor[Any], *args: Any, **kwargs: Any) -> None:
        pipelined.append(args[0])
        original(self, *args, **kwargs)

    with closing(PostgresStore(postgres_url)) as single:
        monkeypatch.setattr(psycopg.Cursor, "executemany", counted)
        single.apply_saga_transitions(batch("p"))
        assert pipelined, "a single process keeps the pipelined path"

    def no_pipeline(self: psycopg.Cursor[Any], *args: Any, **kwargs: Any) -> None:
        raise AssertionError("a shared store pipelined a batch")

    with closing(PostgresStore(postgres_url, settings=WORKER)) as shared:
        monkeypatch.setattr(psycopg.Cursor, "executemany", no_pipeline)
        shared.apply_saga_transitions(batch("w"))
        moved = [SagaTransition(update=SagaUpdate(f"w-{i}", 200.0, step_index=1)) for i in range(5)]
        shared.apply_saga_transitions(moved)
        monkeypatch.setattr(psycopg.Cursor, "executemany", original)
        assert [shared.get_saga(f"w-{i}").step_index for i in range(5)] == [1] * 5  # type: ignore[union-attr]
        rows = {s: [(r.step_name, r.status) for r in shared.step_log(s)] for s in ("p-0", "w-0")}
        assert rows == {"p-0": [("a", "started")], "w-0": [("a", "started")]}
