"""Error classes with blast radius in mind, unit by unit: a corrupt row is a
``CorruptRecord`` naming its stream, version and repair; an aggregate quarantines a
corrupt stream instead of crashing (one alert, other instances unaffected) and lifts the
quarantine once the row is repaired; an unreachable store pauses a saga instead of
failing it; a saga step's defects are not retried, transient errors are.

Store-backed tests run on SQLite and PostgreSQL (``store_url`` in conftest).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Mapping
from typing import Any
from typing import ClassVar

import pytest
from corruption import corrupt

from sagacrew.runtime import AggregateActor
from sagacrew.runtime import CommandHandler
from sagacrew.runtime import Envelope
from sagacrew.runtime import Quarantined
from sagacrew.runtime import Rejection
from sagacrew.runtime import RetryPolicy
from sagacrew.runtime import SagaDefinition
from sagacrew.runtime import SagaOrchestrator
from sagacrew.runtime import SagaState
from sagacrew.runtime import SagaStep
from sagacrew.runtime import SagaSystem
from sagacrew.runtime import StepContext
from sagacrew.runtime import open_store
from sagacrew.runtime.store import CorruptRecord
from sagacrew.runtime.store import NewEvent
from sagacrew.runtime.store import Store
from sagacrew.runtime.store import StoreError
from sagacrew.runtime.store import StoreUnavailable
from sagacrew.runtime.system import ChildPlan
from sagacrew.runtime.system import SupervisorPlan


class Item(AggregateActor):
    address: ClassVar[str] = "shop.item"
    identity: ClassVar[str] = "item_id"
    fields: ClassVar[Mapping[str, str]] = {"item_id": "str", "name": "str", "count": "int"}
    commands: ClassVar[Mapping[str, CommandHandler]] = {
        "add": CommandHandler(kind="create", event="shop.item.added", params=("name",)),
        "bump": CommandHandler(kind="update", event="shop.item.bumped", delta={"count": 1}),
    }


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    opened = open_store(store_url)
    yield opened
    opened.close()


def command(name: str, key: str | None = None, /, **payload: Any) -> Envelope:
    return Envelope(name, payload, correlation_id="c", causation_id="c", idempotency_key=key)


def send(actor: AggregateActor, name: str, key: str | None = None, /, **payload: Any) -> Any:
    return asyncio.run(actor.receive(command(name, key, **payload)))


def added(store: Store, *items: str) -> None:
    """Create ``items`` (version 1 of each stream) and bump each once (version 2)."""
    actor = Item(store)
    for item in items:
        assert send(actor, "add", item_id=item, name=item)["version"] == 1
        assert send(actor, "bump", item_id=item)["version"] == 2


def event(event_type: str, payload: Mapping[str, Any]) -> NewEvent:
    return NewEvent(event_type=event_type, payload=payload, correlation_id="c", causation_id="c")


# --- corrupt rows are CorruptRecord, located and with the repair -------------------------


def test_a_payload_that_is_not_json_is_a_corrupt_record_naming_stream_version_and_fix(
    store: Store, store_url: str
) -> None:
    added(store, "a")
    corrupt(store_url, "UPDATE events SET payload = 'not json' WHERE stream_id = ? AND version = 2",
            "shop.item:a")  # fmt: skip
    with pytest.raises(CorruptRecord) as raised:
        store.read_stream("shop.item:a")
    error = raised.value
    assert (error.stream_id, error.version) == ("shop.item:a", 2)
    assert "events.payload" in str(error) and "version 2" in str(error)
    assert "sagacrew streams repair DIR shop.item:a --version 2" in error.fix
    assert "\n" not in str(error)


def test_a_version_gap_is_a_corrupt_record(store: Store, store_url: str) -> None:
    added(store, "a")
    corrupt(store_url, "UPDATE events SET version = 5 WHERE stream_id = ? AND version = 2",
            "shop.item:a")  # fmt: skip
    with pytest.raises(CorruptRecord) as raised:
        store.read_stream("shop.item:a")
    assert (raised.value.stream_id, raised.value.version) == ("shop.item:a", 2)
    assert "version 2 is missing" in str(raised.value)


def test_an_unknown_event_type_names_the_stream_and_the_version(store: Store) -> None:
    store.append("shop.item:u", 0, [event("shop.item.added", {"item_id": "u", "name": "u"})])
    store.append("shop.item:u", 1, [event("shop.item.vanished", {"item_id": "u"})])
    with pytest.raises(CorruptRecord) as raised:
        Item(store).replay("u")
    message = str(raised.value)
    assert "shop.item:u version 2" in message and "'shop.item.vanished'" in message
    assert (raised.value.stream_id, raised.value.version) == ("shop.item:u", 2)
    assert "--event-type" in raised.value.fix


def test_a_payload_the_aggregate_cannot_apply_is_a_corrupt_record(store: Store) -> None:
    store.append("shop.item:p", 0, [event("shop.item.added", {"item_id": "p", "name": "p"})])
    store.append("shop.item:p", 1, [event("shop.item.bumped", {"delta": {"count": "one"}})])
    with pytest.raises(CorruptRecord) as raised:
        Item(store).replay("p")
    assert raised.value.version == 2 and "cannot be applied (TypeError" in str(raised.value)


def test_a_corrupt_snapshot_is_ignored_and_the_stream_replayed(
    store: Store, store_url: str
) -> None:
    added(store, "a")
    store.save_snapshot("shop.item:a", 2, {"state": {"count": 99}, "exists": True})
    corrupt(store_url, "UPDATE snapshots SET state = '{' WHERE stream_id = ?", "shop.item:a")
    state, version, exists = Item(store).replay("a")
    assert (state["count"], version, exists) == (1, 2, True)


# --- the aggregate quarantines a corrupt stream --------------------------------------------


def test_a_corrupt_stream_is_quarantined_with_one_alert_and_other_instances_work(
    store: Store, store_url: str
) -> None:
    added(store, "a", "b")
    corrupt(store_url, "UPDATE events SET payload = 'not json' WHERE stream_id = ? AND version = 1",
            "shop.item:a")  # fmt: skip
    actor = Item(store)
    alerts: list[Quarantined] = []
    actor.quarantine.notify = alerts.append
    refusals = [send(actor, "bump", key, item_id="a") for key in (None, "k-1", "k-2")]
    for refused in refusals:
        assert isinstance(refused, Rejection) and refused.corrupt
        assert refused.unavailable is None
        assert "stream shop.item:a is quarantined at version 1" in refused.reason
        assert "sagacrew streams repair DIR shop.item:a --version 1" in refused.reason
        assert "\n" not in refused.reason
    assert [(held.stream_id, held.version) for held in alerts] == [("shop.item:a", 1)]
    assert set(actor.quarantine.held) == {"a"}
    assert send(actor, "bump", item_id="b")["version"] == 3  # its neighbour is served


def test_a_repair_lifts_the_quarantine_on_the_next_command(store: Store, store_url: str) -> None:
    added(store, "a")
    corrupt(store_url, "UPDATE events SET payload = 'not json' WHERE stream_id = ? AND version = 1",
            "shop.item:a")  # fmt: skip
    actor = Item(store)
    assert isinstance(send(actor, "bump", item_id="a"), Rejection)
    repaired = store.repair_event(
        "shop.item:a", 1, payload={"item_id": "a", "name": "a"}, reason="ticket 7"
    )
    assert repaired.version == 1 and repaired.payload == {"item_id": "a", "name": "a"}
    record = repaired.metadata["repaired"]
    assert record["payload"] == "not json" and record["reason"] == "ticket 7"
    assert record["event_type"] == "shop.item.added"
    assert send(actor, "bump", item_id="a")["version"] == 3  # the same actor, no restart
    assert actor.quarantine.held == {}
    assert [e.version for e in store.read_stream("shop.item:a")] == [1, 2, 3]


def test_a_repair_of_a_row_that_does_not_exist_is_refused(store: Store) -> None:
    with pytest.raises(StoreError, match="has no event at version 4"):
        store.repair_event("shop.item:none", 4, payload={})


def test_a_repair_drops_a_snapshot_that_covers_the_row(store: Store, store_url: str) -> None:
    added(store, "a")
    store.save_snapshot("shop.item:a", 2, {"state": {"count": 99}, "exists": True})
    corrupt(store_url, "UPDATE events SET event_type = 'shop.item.lost' WHERE stream_id = ? "
            "AND version = 2", "shop.item:a")  # fmt: skip
    store.repair_event(
        "shop.item:a", 2, payload={"delta": {"count": 1}}, event_type="shop.item.bumped"
    )
    assert store.load_snapshot("shop.item:a") is None
    assert Item(store).replay("a")[0]["count"] == 1


# --- an unreachable store pauses, it does not fail -----------------------------------------


def _unreachable(*_: Any, **__: Any) -> Any:
    raise StoreUnavailable("connection lost", fix="wait", retry_after_s=0.01)


def test_an_unreachable_store_is_an_answer_not_a_crash(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    actor = Item(store)
    monkeypatch.setattr(store, "read_stream", _unreachable)
    reply = send(actor, "add", item_id="x", name="x")
    assert isinstance(reply, Rejection) and isinstance(reply.unavailable, StoreUnavailable)
    assert not reply.corrupt


def _system(store: Store, *sagas: SagaDefinition) -> SagaSystem:
    return SagaSystem(
        name="quarantine_units",
        store=store,
        aggregates=[Item],
        gateways=[],
        supervision=SupervisorPlan(
            name="root",
            strategy="one_for_one",
            intensity=1,
            period_s=10.0,
            children=(ChildPlan("shop.item"),),
        ),
        sagas=sagas,
    )


def test_dispatch_raises_store_unavailable_again_and_no_actor_restarts(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def body() -> int:
        async with _system(store) as system:
            monkeypatch.setattr(store, "read_stream", _unreachable)
            with pytest.raises(StoreUnavailable):
                await system.dispatch("shop.item", command("add", "k1", item_id="x", name="x"))
            monkeypatch.undo()
            reply = await system.dispatch("shop.item", command("add", "k1", item_id="x", name="x"))
            assert reply["version"] == 1
            return system.actors.restarts

    assert asyncio.run(asyncio.wait_for(body(), 10.0)) == 0


# --- how a step's exception is classed -----------------------------------------------------


RETRY = RetryPolicy(max_attempts=3, initial_backoff_s=0.0, jitter=0.0, max_backoff_s=0.0)


async def _undo(_: StepContext) -> Mapping[str, Any]:
    return {}


def _saga(action: Callable[[StepContext], Any]) -> SagaDefinition:
    async def first(_: StepContext) -> Mapping[str, Any]:
        return {"first": True}

    return SagaDefinition(
        "classed",
        [
            SagaStep("first", first, compensation=_undo, retry=RETRY),
            SagaStep("second", action, compensation=_undo, retry=RETRY),
        ],
        compensation_retry=RETRY,
    )


def _raising(*errors: Exception) -> Callable[[StepContext], Any]:
    """An action that raises ``errors`` in turn, then succeeds."""
    pending = list(errors)

    async def action(_: StepContext) -> Mapping[str, Any]:
        if pending:
            raise pending.pop(0)
        return {"second": True}

    return action


def _run(store: Store, action: Callable[[StepContext], Any]) -> tuple[Any, list[str]]:
    async def body() -> tuple[Any, list[str]]:
        async def dispatch(_: str, __: Envelope) -> Mapping[str, Any]:
            return {}

        orchestrator = SagaOrchestrator(store, [_saga(action)], dispatch=dispatch)
        try:
            result = await orchestrator.run("classed", {})
        finally:
            await orchestrator.close()
        log = [
            f"{row.phase}:{row.status}"
            for row in store.step_log(result.saga_id)
            if row.step_name == "second"
        ]
        return result, log

    return asyncio.run(asyncio.wait_for(body(), 10.0))


@pytest.mark.parametrize(
    "defect",
    [
        KeyError("order_id"),
        TypeError("'NoneType' object is not subscriptable"),
        AttributeError("no attribute 'x'"),
        CorruptRecord("events.payload of stream 's' version 1 is not valid JSON", fix="repair"),
    ],
    ids=lambda error: type(error).__name__,
)
def test_a_defect_fails_the_step_at_once_without_retries(store: Store, defect: Exception) -> None:
    result, log = _run(store, _raising(defect, defect, defect))
    assert result.state is SagaState.COMPENSATED
    assert log.count("forward:failed") == 1  # not retried
    assert type(defect).__name__ in (result.error or "") and "not retried" in (result.error or "")


def test_a_transient_error_is_retried(store: Store) -> None:
    result, log = _run(store, _raising(ConnectionError("reset by peer")))
    assert result.state is SagaState.COMPLETED
    assert log.count("forward:failed") == 1 and log.count("forward:succeeded") == 1


def test_an_unreachable_store_pauses_the_saga_instead_of_failing_a_step(store: Store) -> None:
    unavailable = StoreUnavailable("connection lost", fix="wait", retry_after_s=0.01)
    result, log = _run(store, _raising(unavailable, unavailable))
    assert result.state is SagaState.COMPLETED
    assert "forward:failed" not in log  # paused and resumed, no attempt counted as failed
