"""A gateway to a real system answers its calls side by side, each call one message at a
time; a transport error goes to the asker, and leaves the call ``unknown`` in the ledger.

A real ``perform`` is slow and far (an HTTP call): when the gateway actor waited for each
one before taking the next message, one slow call held every saga's call to that system
behind it. The gateway answers through :class:`ReplyLater` instead.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any
from typing import ClassVar

import pytest
from async_helpers import async_test

from sagacrew.runtime import Envelope
from sagacrew.runtime import GatewayOperation
from sagacrew.runtime import SandboxGateway
from sagacrew.runtime import open_store
from sagacrew.runtime.actors import Actor as BaseActor
from sagacrew.runtime.actors import ActorSystem
from sagacrew.runtime.actors import DeadLetterError
from sagacrew.runtime.actors import ReplyLater
from sagacrew.runtime.store import Store


class Slow(SandboxGateway):
    """A 'real' system: each call takes ``delay_s`` (the run id ``fail`` times out)."""

    system = "cluster"
    operations: ClassVar[dict[str, GatewayOperation]] = {
        "start_job": GatewayOperation(),
        "cancel_job": GatewayOperation(undoes="start_job"),
    }
    delay_s: ClassVar[float] = 0.2
    running: ClassVar[list[str]]
    log: ClassVar[list[tuple[str, str]]]

    async def perform(
        self, name: str, operation: GatewayOperation, message: Envelope
    ) -> dict[str, Any]:
        key = str(message.payload.get("undoes") or message.idempotency_key)
        assert key not in type(self).running, f"two messages of call {key} at once"
        type(self).running.append(key)
        type(self).log.append((name, key))
        try:
            await asyncio.sleep(self.delay_s)
        finally:
            type(self).running.remove(key)
        if message.payload.get("run") == "fail":
            raise TimeoutError("read timeout")
        if operation.undoes is not None:
            return {"resource_id": str(message.payload["resource_id"]), "status": "undone"}
        return {"resource_id": f"job-{key}", "status": "done"}


def call(name: str, key: str, **payload: Any) -> Envelope:
    return Envelope(name, payload, "corr", None, f"m-{name}-{key}", key)


async def no_delivery(name: str, correlation_id: str, payload: Any) -> bool:
    return False


def fresh(tmp_path: Path) -> tuple[Store, type[Slow]]:
    gateway = type("Cluster", (Slow,), {"running": [], "log": []})
    return open_store(f"sqlite:///{tmp_path / 'state.db'}"), gateway


@async_test
async def test_calls_of_different_sagas_run_side_by_side(tmp_path: Path) -> None:
    store, gateway = fresh(tmp_path)
    async with ActorSystem() as system:
        ref = await system.spawn(lambda: gateway(store, no_delivery), "cluster")
        loop = asyncio.get_running_loop()
        started = loop.time()
        answers = await asyncio.gather(
            *(ref.ask(call("start_job", f"k{i}"), timeout_s=5) for i in range(5))
        )
        elapsed = loop.time() - started
    assert [a["resource_id"] for a in answers] == [f"job-k{i}" for i in range(5)]
    assert elapsed < 5 * Slow.delay_s, "the five calls did not wait for each other"
    assert {c.status for c in store.list_external_calls()} == {"done"}
    store.close()


@async_test
async def test_messages_of_one_call_are_answered_one_at_a_time(tmp_path: Path) -> None:
    store, gateway = fresh(tmp_path)
    async with ActorSystem() as system:
        ref = await system.spawn(lambda: gateway(store, no_delivery), "cluster")
        first, again, undo = await asyncio.gather(
            ref.ask(call("start_job", "k1"), timeout_s=5),
            ref.ask(call("start_job", "k1"), timeout_s=5),
            ref.ask(call("cancel_job", "u1", undoes="k1", resource_id=""), timeout_s=5),
        )
    assert first == again == {"resource_id": "job-k1", "status": "done"}
    assert undo["status"] == "undone"
    assert gateway.log == [("start_job", "k1"), ("cancel_job", "k1")], (
        "the redelivery was answered from the ledger, the undo after the call"
    )
    store.close()


@async_test
async def test_a_transport_error_goes_to_the_asker_and_leaves_the_call_unknown(
    tmp_path: Path,
) -> None:
    store, gateway = fresh(tmp_path)
    async with ActorSystem() as system:
        ref = await system.spawn(lambda: gateway(store, no_delivery), "cluster")
        with pytest.raises(TimeoutError):
            await ref.ask(call("start_job", "k1", run="fail"), timeout_s=5)
        assert ref.is_alive(), "the gateway did not fail"
        unknown = store.get_external_call("k1")
        assert unknown is not None and (unknown.status, unknown.resource_id) == ("unknown", "")
        undo = await ref.ask(call("cancel_job", "u1", undoes="k1", resource_id=""), timeout_s=5)
    assert gateway.log == [("start_job", "k1"), ("cancel_job", "k1")], "the undo asked it"
    assert undo["status"] == "cancelled"
    cancelled = store.get_external_call("k1")
    assert cancelled is not None and cancelled.status == "cancelled"
    store.close()


class Piping(BaseActor):
    """Answers ``("later", s)`` after ``s`` seconds through :class:`ReplyLater`."""

    def __init__(self) -> None:
        self.tasks: set[asyncio.Task[Any]] = set()

    async def receive(self, message: Any) -> Any:
        kind, value = message
        if kind == "now":
            return value
        task = asyncio.get_running_loop().create_task(self._later(value))
        self.tasks.add(task)
        return ReplyLater(task)

    async def _later(self, delay_s: float) -> str:
        await asyncio.sleep(delay_s)
        if delay_s < 0:
            raise ValueError("negative")
        return f"after {delay_s}"

    async def post_stop(self) -> None:
        for task in self.tasks:
            task.cancel()


@async_test
async def test_reply_later_answers_when_its_task_ends_and_the_actor_goes_on() -> None:
    async with ActorSystem() as system:
        ref = await system.spawn(Piping, "piping")
        slow = asyncio.ensure_future(ref.ask(("later", 0.3), timeout_s=5))
        assert await ref.ask(("now", 1), timeout_s=0.2) == 1, "not held behind the slow one"
        assert await slow == "after 0.3"
        with pytest.raises(ValueError, match="negative"):
            await ref.ask(("later", -1), timeout_s=5)
        assert await ref.ask(("now", 2), timeout_s=1) == 2, "an error is the asker's only"
        pending = asyncio.ensure_future(ref.ask(("later", 30), timeout_s=60))
        await asyncio.sleep(0.05)
        await system.stop_actor(ref)
        with pytest.raises(DeadLetterError):
            await pending
