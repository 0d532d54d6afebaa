"""Semantic locks: a saga holds an aggregate instance in a pending state; other sagas'
commands on it are refused or wait for the release; the acquiring step's undo releases
it; the lock survives a restart; the spec derives it where a saga writes an aggregate
before and after its pivot."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any
from typing import ClassVar

import pytest

from sagacrew.agents.saga_orchestrator import semantic_locks
from sagacrew.agents.spec import SpecErrors
from sagacrew.agents.spec import load_spec
from sagacrew.agents.spec import parse_spec
from sagacrew.runtime import AggregateActor
from sagacrew.runtime import CommandHandler
from sagacrew.runtime import Envelope
from sagacrew.runtime import Rejection
from sagacrew.runtime import SagaDefinition
from sagacrew.runtime import SagaStep
from sagacrew.runtime import SagaSystem
from sagacrew.runtime import StepFailed
from sagacrew.runtime import open_store
from sagacrew.runtime.store import Store
from sagacrew.runtime.system import ChildPlan
from sagacrew.runtime.system import SupervisorPlan

ROOT = Path(__file__).resolve().parents[1]


class Order(AggregateActor):
    address: ClassVar[str] = "ordering.order"
    identity: ClassVar[str] = "order_id"
    fields: ClassVar[Mapping[str, str]] = {"order_id": "str", "status": "str"}
    commands: ClassVar[Mapping[str, CommandHandler]] = {
        "place": CommandHandler(
            kind="create", event="ordering.order.created", sets={"status": "pending"}
        ),
        "approve": CommandHandler(
            kind="update", event="ordering.order.approved", sets={"status": "approved"}
        ),
        "reject": CommandHandler(
            kind="update", event="ordering.order.rejected", sets={"status": "rejected"}
        ),
        "peek": CommandHandler(kind="query", event=None),
    }


class WaitingOrder(Order):
    when_locked: ClassVar[str] = "wait"
    lock_timeout_s: ClassVar[float] = 5.0


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return open_store(f"sqlite://{tmp_path / 'orders.db'}")


def command(saga: str, name: str, key: str | None = None, **payload: Any) -> Envelope:
    return Envelope(name, payload, correlation_id=saga, causation_id=saga, idempotency_key=key)


def send(actor: AggregateActor, envelope: Envelope) -> Any:
    return asyncio.run(actor.receive(envelope))


def test_another_sagas_commands_on_a_held_instance_are_refused(store: Store) -> None:
    actor = Order(store)
    send(actor, command("A", "place", "A:0:forward", order_id="o", _lock="acquire"))
    for name in ("approve", "peek"):  # a write, and a read (no dirty read either)
        refused = send(actor, command("B", name, order_id="o"))
        assert isinstance(refused, Rejection) and not refused.conflict
        assert "pending" in refused.reason and "semantic lock" in refused.reason
    assert send(Order(store), command("A", "peek", order_id="o"))["state"]["status"] == "pending"
    send(actor, command("A", "approve", "A:5:forward", order_id="o", _lock="release"))
    assert not isinstance(send(actor, command("B", "reject", order_id="o")), Rejection)


def test_a_lock_survives_a_restart(store: Store) -> None:
    send(Order(store), command("A", "place", "A:0:forward", order_id="o", _lock="acquire"))
    assert isinstance(send(Order(store), command("B", "approve", order_id="o")), Rejection)


def test_the_undo_of_the_acquiring_step_releases_the_lock(store: Store) -> None:
    actor = Order(store)
    send(actor, command("A", "approve", "A:0:forward", order_id="o", _lock="acquire"))
    send(actor, command("A", "_restore", "A:0:compensation", order_id="o", undoes="A:0:forward"))
    assert send(actor, command("B", "approve", order_id="o"))["version"] == 3


def test_another_sagas_undo_is_not_held_up(store: Store) -> None:
    actor = Order(store)
    send(actor, command("B", "approve", "B:0:forward", order_id="o"))
    send(actor, command("A", "reject", "A:0:forward", order_id="o", _lock="acquire"))
    undo = send(actor, command("B", "_restore", "B:0:c", order_id="o", undoes="B:0:forward"))
    assert isinstance(undo, Rejection) and undo.conflict  # passes the lock, meets the guard


def _system(store: Store, aggregate: type[AggregateActor] = WaitingOrder) -> SagaSystem:
    async def noop(_: Any) -> Mapping[str, Any]:
        return {}

    return SagaSystem(
        name="orders",
        store=store,
        aggregates=[aggregate],
        gateways=[],
        supervision=SupervisorPlan("root", "one_for_one", 3, 5.0, (ChildPlan("ordering.order"),)),
        sagas=[SagaDefinition("noop", [SagaStep("noop", noop, read_only=True)])],
    )


@pytest.mark.parametrize("releaser", ["this process", "another worker"])
def test_a_waiting_command_goes_through_once_the_lock_is_released(
    tmp_path: Path, releaser: str
) -> None:
    """Released by another worker sharing the store, the lock's release event is never set
    here: the waiting command gets through by being asked again (else, after the whole 5 s
    wait, a StepFailed)."""
    url = f"sqlite://{tmp_path / 'orders.db'}"

    async def go() -> tuple[bool, Mapping[str, Any]]:
        async with AsyncExitStack() as stack:
            waiter = await stack.enter_async_context(_system(open_store(url)))
            holder = waiter
            if releaser == "another worker":  # its own connections to the same store
                holder = await stack.enter_async_context(_system(open_store(url)))
            await holder.dispatch(
                "ordering.order", command("A", "place", "A:0", order_id="o", _lock="acquire")
            )
            waiting = asyncio.create_task(
                waiter.dispatch("ordering.order", command("B", "reject", "B:0", order_id="o"))
            )
            await asyncio.sleep(0.01)
            held_up = not waiting.done()
            await holder.dispatch(
                "ordering.order", command("A", "approve", "A:5", order_id="o", _lock="release")
            )
            return held_up, await waiting

    held_up, reply = asyncio.run(go())
    assert held_up and reply["version"] == 3, reply
    assert WaitingOrder(open_store(url)).replay("o")[0]["status"] == "rejected"


def test_a_wait_longer_than_the_lock_timeout_is_a_refusal(store: Store) -> None:
    class Impatient(WaitingOrder):
        lock_timeout_s: ClassVar[float] = 0.05

    async def go() -> None:
        async with _system(store, Impatient) as system:
            await system.dispatch(
                "ordering.order", command("A", "place", "A:0", order_id="o", _lock="acquire")
            )
            await system.dispatch("ordering.order", command("B", "reject", "B:0", order_id="o"))

    with pytest.raises(StepFailed, match=r"still held after waiting 0\.05 s"):
        asyncio.run(go())


def test_the_order_example_holds_its_pending_order_and_ticket() -> None:
    spec = load_spec(ROOT / "examples" / "order_fulfilment.yaml")
    names = [step.name for step in spec.sagas["create_order"].steps]
    locks = {names[i]: lock for i, lock in semantic_locks(spec, spec.sagas["create_order"]).items()}
    assert locks == {
        "create_order": "acquire",
        "create_ticket": "acquire",
        "confirm_ticket": "release",
        "approve_order": "release",
    }


def test_commutative_writes_need_no_lock() -> None:
    for example in ("bank_transfer", "ml_training"):
        spec = load_spec(ROOT / "examples" / f"{example}.yaml")
        assert all(semantic_locks(spec, saga) == {} for saga in spec.sagas.values())


LOCK_SPEC = """
system: s
contexts:
  c:
    aggregates:
      a:
        identity: a_id
        fields: {a_id: str, status: str}
        commands:
          make: {kind: create, sets: {status: new}}
          look: {kind: query}
externals:
  x:
    operations:
      call: {undo: uncall}
      uncall: {}
sagas:
  s:
    trigger: c.a.make
    steps:
      - {name: make, invoke: c.a.make, lock: release}
      - {name: look, invoke: c.a.look, lock: acquire}
      - {name: call, invoke: x.call, lock: acquire}
"""


def test_a_misplaced_lock_is_a_spec_error() -> None:
    with pytest.raises(SpecErrors) as caught:
        parse_spec(LOCK_SPEC, "s.yaml")
    messages = "\n".join(str(error) for error in caught.value.errors)
    assert "releases a lock on c.a that no earlier step" in messages
    assert "is a query, which writes nothing to lock" in messages
    assert "calls an external system, which a semantic lock cannot hold" in messages
