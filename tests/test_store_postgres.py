"""PostgreSQL-specific store behaviour: placeholder translation and a real append race."""

from __future__ import annotations

import threading

import pytest

from sagacrew.runtime.store import ConcurrencyError
from sagacrew.runtime.store import NewEvent
from sagacrew.runtime.store import open_store
from sagacrew.runtime.store._pg_cursor import qmark_to_format


def test_qmark_placeholders_become_format_placeholders_outside_quotes() -> None:
    sql = "SELECT '?', \"a?\" FROM t WHERE x = ? AND y LIKE 'a%' -- why?\nAND z = ?"
    assert qmark_to_format(sql) == (
        "SELECT '?', \"a?\" FROM t WHERE x = %s AND y LIKE 'a%%' -- why?\nAND z = %s"
    )


def test_percent_outside_quotes_is_escaped_and_block_comments_kept() -> None:
    assert qmark_to_format("SELECT 5 % 2 /* ? */, ?") == "SELECT 5 %% 2 /* ? */, %s"


@pytest.mark.postgres
def test_concurrent_appends_at_the_same_version_let_exactly_one_win(postgres_url: str) -> None:
    stores = [open_store(postgres_url) for _ in range(4)]
    barrier = threading.Barrier(len(stores))
    outcomes: list[str] = []

    def append(index: int) -> None:
        barrier.wait()
        try:
            stores[index].append("race", 0, [NewEvent("a.b.created", {"i": index}, "c", "c")])
            outcomes.append("won")
        except ConcurrencyError:
            outcomes.append("conflict")

    threads = [threading.Thread(target=append, args=(i,)) for i in range(len(stores))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert sorted(outcomes) == ["conflict", "conflict", "conflict", "won"]
        assert stores[0].stream_version("race") == 1
    finally:
        for store in stores:
            store.close()
