"""A gateway's ledger writes leave the event loop: they commit on the store's writer thread
and calls made together share commits.

Each call a gateway answers is written to the ``external_calls`` ledger first, and that
write waits for the disk (an ``fsync`` on SQLite) or for the server. Made on the event
loop, it stopped every saga while it lasted; answered one at a time, each call of the
sandbox cost a commit of its own.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from typing import ClassVar

from async_helpers import async_test

from sagacrew.runtime import Envelope
from sagacrew.runtime import GatewayOperation
from sagacrew.runtime import SandboxGateway
from sagacrew.runtime.actors import ActorSystem
from sagacrew.runtime.aggregate import Rejection
from sagacrew.runtime.store import ExternalCall
from sagacrew.runtime.store import LedgerWrite
from sagacrew.runtime.store import SqliteStore


class SlowLedger(SqliteStore):
    """A SQLite store whose ledger commits take ``delay_s`` on the thread that makes them,
    noting each commit's thread and size."""

    delay_s = 0.05

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.commits: list[tuple[threading.Thread, int]] = []

    def write_external_calls(self, writes: Sequence[LedgerWrite]) -> list[bool | ExternalCall]:
        time.sleep(self.delay_s)
        self.commits.append((threading.current_thread(), len(writes)))
        return super().write_external_calls(writes)


class Bank(SandboxGateway):
    system = "bank"
    operations: ClassVar[dict[str, GatewayOperation]] = {
        "open_account": GatewayOperation(),
        "close_account": GatewayOperation(undoes="open_account"),
    }


def call(name: str, key: str, **payload: Any) -> Envelope:
    return Envelope(name, payload, f"corr-{key}", None, f"m-{name}-{key}", key)


async def no_delivery(name: str, correlation_id: str, payload: Any) -> bool:
    return False


@async_test
async def test_a_call_is_answered_while_the_loop_runs_and_its_ledger_write_is_made_off_it(
    tmp_path: Path,
) -> None:
    store = SlowLedger(str(tmp_path / "state.db"))
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1

    ticker = asyncio.get_running_loop().create_task(tick())
    async with ActorSystem() as system:
        ref = await system.spawn(lambda: Bank(store, no_delivery), "bank")
        await asyncio.sleep(0.02)
        before = ticks
        answer = await ref.ask(call("open_account", "k1"), timeout_s=5)
        during = ticks - before
    ticker.cancel()
    assert answer["status"] == "done"
    [(thread, size)] = store.commits
    assert thread is not threading.main_thread() and size == 1
    assert during >= 3, f"the loop stood still while the ledger committed ({during} ticks)"
    recorded = store.get_external_call("k1")
    assert recorded is not None and recorded.status == "done"
    store.close()


@async_test
async def test_calls_made_together_share_ledger_commits(tmp_path: Path) -> None:
    store = SlowLedger(str(tmp_path / "state.db"))
    async with ActorSystem() as system:
        ref = await system.spawn(lambda: Bank(store, no_delivery), "bank")
        answers = await asyncio.gather(
            *(ref.ask(call("open_account", f"k{i}"), timeout_s=5) for i in range(20))
        )
        undos = await asyncio.gather(
            *(
                ref.ask(call("close_account", f"u{i}", undoes=f"k{i}"), timeout_s=5)
                for i in range(20)
            )
        )
    assert {a["status"] for a in answers} == {"done"}
    assert {u["status"] for u in undos} == {"undone"}
    opened = [c for c in store.list_external_calls() if c.operation == "open_account"]
    assert len(opened) == 20 and {c.status for c in opened} == {"undone"}
    writes = sum(size for _, size in store.commits)
    assert writes == 60, "a call's row for each call and undo, and each undone call's change"
    assert len(store.commits) <= 10, f"{writes} ledger writes took {len(store.commits)} commits"
    store.close()


@async_test
async def test_a_call_meeting_a_closed_store_is_answered_unavailable(tmp_path: Path) -> None:
    store = SqliteStore(str(tmp_path / "state.db"))
    store.writer_thread().close()  # its writes can no longer commit
    async with ActorSystem() as system:
        ref = await system.spawn(lambda: Bank(store, no_delivery), "bank")
        answer = await ref.ask(call("open_account", "k1"), timeout_s=5)
        assert ref.is_alive(), "the gateway did not fail"
    assert isinstance(answer, Rejection) and answer.unavailable is not None
    assert store.get_external_call("k1") is None
    store.close()
