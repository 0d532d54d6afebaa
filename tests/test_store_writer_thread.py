"""Group commits run on the store's writer thread: while a batch commits, the event loop
goes on and reads (a status request) are answered, on each backend."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest
from async_helpers import async_test
from saga_fakes import saga_row

from sagacrew.runtime import Envelope
from sagacrew.runtime import MessageLog
from sagacrew.runtime.saga import transition_committer
from sagacrew.runtime.store import AppendRequest
from sagacrew.runtime.store import MessageLogEntry
from sagacrew.runtime.store import NewEvent
from sagacrew.runtime.store import SagaTransition
from sagacrew.runtime.store import Store
from sagacrew.runtime.store import StoreUnavailable
from sagacrew.runtime.store import event_appender
from sagacrew.runtime.store import open_store
from sagacrew.runtime.store._sql_base import Cursor
from sagacrew.runtime.store._sql_base import SqlBase


@contextmanager
def commits_held(store: Store) -> Iterator[threading.Event]:
    """Every write transaction of ``store``'s writer thread waits, inside the transaction
    (its write lock taken), until the yielded event is set."""
    assert isinstance(store, SqlBase)
    release = threading.Event()
    entered = store._transaction

    @contextmanager
    def held() -> Iterator[Cursor]:
        with entered() as cursor:
            if store.writer_thread().here:
                release.wait(10)
            yield cursor

    store._transaction = held  # type: ignore[method-assign]
    try:
        yield release
    finally:
        release.set()


@async_test
async def test_the_loop_serves_reads_while_a_batch_commits(store: Store) -> None:
    store.apply_saga_transition(SagaTransition(create=saga_row("s-0", "running", 1.0)))
    committer = transition_committer(store)
    with commits_held(store) as release:
        write = asyncio.ensure_future(
            committer.apply(SagaTransition(create=saga_row("s-1", "running", 2.0)))
        )
        await asyncio.sleep(0.1)
        assert not write.done(), "the batch is still committing"
        ticks = 0
        for _ in range(5):
            await asyncio.sleep(0.01)
            ticks += 1
        assert ticks == 5, "the loop went on"
        status = store.get_saga("s-0")
        assert status is not None and status.state == "running", "a read was answered"
        assert store.saga_state_counts() == {"running": 1}, "the batch is not committed"
        release.set()
        await asyncio.wait_for(write, 5)
    assert store.saga_state_counts() == {"running": 2}
    assert (committer.batches, committer.requests) == (1, 1)


@async_test
async def test_requests_made_while_a_batch_commits_share_the_next_commit(store: Store) -> None:
    committer = transition_committer(store)
    with commits_held(store) as release:
        first = asyncio.ensure_future(
            committer.apply(SagaTransition(create=saga_row("s-1", "running", 1.0)))
        )
        await asyncio.sleep(0.05)
        later = [
            asyncio.ensure_future(
                committer.apply(SagaTransition(create=saga_row(f"s-{i}", "running", i)))
            )
            for i in range(2, 12)
        ]
        await asyncio.sleep(0.05)
        assert committer.batches == 1, "the next batch waits for the one in flight"
        release.set()
        await asyncio.wait_for(asyncio.gather(first, *later), 5)
    assert (committer.batches, committer.requests) == (2, 11)
    assert store.saga_state_counts() == {"running": 11}


@async_test
async def test_the_message_log_is_written_off_the_loop_and_kept_while_unwritable(
    tmp_path: Path,
) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'state.db'}")
    written = store.log_messages
    failures = [1]
    threads: list[bool] = []

    def log_messages(entries: Sequence[MessageLogEntry]) -> None:
        threads.append(store.writer_thread().here)
        if failures[0]:
            failures[0] -= 1
            raise StoreUnavailable("down", fix="wait")
        written(entries)

    store.log_messages = log_messages  # type: ignore[method-assign]
    log = MessageLog(store, clock=lambda: 100.0)
    try:
        for i in range(3):
            log.observe("root/a", Envelope("do", {}, "c", None, f"m-{i}", f"k-{i}"), 0.001, None)
        await asyncio.sleep(0.1)
        assert store.query("SELECT COUNT(*) FROM actor_message_log") == [(0,)], "kept"
        log.observe("root/a", Envelope("do", {}, "c", None, "m-3", "k-3"), 0.001, None)
        await asyncio.sleep(1.3)  # the retry after a second
        rows = store.query("SELECT message_id FROM actor_message_log ORDER BY received_at")
        assert sorted(row[0] for row in rows) == ["m-0", "m-1", "m-2", "m-3"]
        assert threads and all(threads), "every write ran on the writer thread"
        assert log.dropped == 0
    finally:
        store.close()


@async_test
async def test_a_write_after_the_store_closed_fails_at_once(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'state.db'}")
    committer = transition_committer(store)
    store.close()
    with pytest.raises(StoreUnavailable, match="writer thread stopped"):
        await asyncio.wait_for(
            committer.apply(SagaTransition(create=saga_row("s-1", "running", 1.0))), 5
        )


def test_a_store_shared_committer_writes_in_a_new_loop_after_one_ended_mid_batch(
    tmp_path: Path,
) -> None:
    """An event loop that ends with a batch in flight never hears of it; the next loop's
    writes to the same store (its event appends, its ledger) still commit."""
    store = open_store(f"sqlite:///{tmp_path / 'state.db'}")
    appender = event_appender(store)

    def append(stream: str) -> AppendRequest:
        return AppendRequest(stream, 0, [NewEvent("kitchen.ticket.created", {}, "c", "c")])

    async def ends_mid_batch() -> None:
        with commits_held(store) as release:
            first = appender.apply(append("s-1"))
            await asyncio.sleep(0.05)
            assert not first.done(), "the batch is on the writer thread, held there"
            release.set()  # it commits after this loop ended

    async def later() -> int:
        return await asyncio.wait_for(appender.apply(append("s-2")), 5)

    try:
        asyncio.run(ends_mid_batch())
        assert asyncio.run(later()) == 1
        assert store.stream_version("s-1") == 1, "the first loop's batch was written"
    finally:
        store.close()
