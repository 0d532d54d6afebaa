"""A SQLite store's WAL is checkpointed by a thread of its own, not inside the writer
thread's group commits (where each checkpoint stalled every saga at once), and that thread
stops with the store."""

from __future__ import annotations

import asyncio
import gc
import os
import threading
import time
import weakref
from pathlib import Path

from async_helpers import async_test
from saga_fakes import saga_row

from sagacrew.runtime.saga import transition_committer
from sagacrew.runtime.store import SagaTransition
from sagacrew.runtime.store import SqliteStore

CHECKPOINTER = "sagacrew-wal-checkpointer"


def checkpointers() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == CHECKPOINTER]


async def commit_sagas(store: SqliteStore, count: int) -> None:
    """``count`` saga rows (2 KB of data each) through the group committer, so through the
    store's writer thread."""
    committer = transition_committer(store)
    data = {"note": "x" * 2048}
    await asyncio.gather(
        *(
            committer.apply(SagaTransition(create=saga_row(f"s-{i}", "running", 1.0, data=data)))
            for i in range(count)
        )
    )


async def store_with_checkpointer(path: Path) -> tuple[SqliteStore, threading.Thread]:
    """A store at ``path`` with three sagas committed through its writer thread, and the
    checkpointer thread that store started."""
    before = set(checkpointers())
    store = SqliteStore(str(path))
    await commit_sagas(store, 3)
    (mine,) = set(checkpointers()) - before
    return store, mine


@async_test
async def test_commits_on_the_writer_thread_are_checkpointed_into_the_database_file(
    tmp_path: Path,
) -> None:
    path = tmp_path / "store.db"
    store = SqliteStore(str(path))
    try:
        before = os.path.getsize(path)
        # About 150 pages: far below the 1,000 pages at which a commit would checkpoint.
        await commit_sagas(store, 300)
        deadline = time.monotonic() + 10
        while os.path.getsize(path) < before + 300 * 2048 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert os.path.getsize(path) >= before + 300 * 2048, "the WAL was not checkpointed"
        assert store.get_saga("s-299") is not None
    finally:
        store.close()


@async_test
async def test_closing_the_store_right_after_a_commit_stops_the_checkpointer(
    tmp_path: Path,
) -> None:
    store, mine = await store_with_checkpointer(tmp_path / "store.db")
    # Closed while the checkpointer pauses after the commit it was told of.
    closing = threading.Thread(target=store.close)
    closing.start()
    closing.join(10)
    assert not closing.is_alive(), "close() hung on the checkpointer"
    assert not mine.is_alive()
    reopened = SqliteStore(str(tmp_path / "store.db"))
    try:
        assert [saga.saga_id for saga in reopened.list_sagas()] == ["s-0", "s-1", "s-2"]
    finally:
        reopened.close()


@async_test
async def test_a_store_dropped_unclosed_is_collected_and_its_checkpointer_stops(
    tmp_path: Path,
) -> None:
    store, mine = await store_with_checkpointer(tmp_path / "store.db")
    dropped = weakref.ref(store)
    del store
    gc.collect()
    assert dropped() is None, "the checkpointer kept the store alive"
    mine.join(10)
    assert not mine.is_alive()
