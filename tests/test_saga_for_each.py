"""Fan-out: ``ForEach`` sends one command per item of a list known only at run time, each
with its own key (``f"{command_key}[{i}]"``); its compensation undoes the items in
reverse, each naming its own forward key, so items that never acted are no-ops."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from typing import Any

import pytest
from async_helpers import async_test
from async_helpers import run
from saga_fakes import Harness
from saga_fakes import ObservedStore

from sagacrew.runtime import ForEach as RuntimeForEach
from sagacrew.runtime.messages import Envelope
from sagacrew.runtime.saga import REPLIES
from sagacrew.runtime.saga import ForEach
from sagacrew.runtime.saga import FromStep
from sagacrew.runtime.saga import Item
from sagacrew.runtime.saga import RetryPolicy
from sagacrew.runtime.saga import SagaDefinition
from sagacrew.runtime.saga import SagaDefinitionError
from sagacrew.runtime.saga import SagaResult
from sagacrew.runtime.saga import SagaState
from sagacrew.runtime.saga import SagaStep
from sagacrew.runtime.saga import Send
from sagacrew.runtime.saga import StepContext
from sagacrew.runtime.saga import StepFailed
from sagacrew.runtime.saga import Undo
from sagacrew.runtime.saga import item_key

FAST = RetryPolicy(max_attempts=3, initial_backoff_s=0.1, jitter=0.0)


@dataclass
class Target:
    """Acts once per idempotency key (a redelivered key gets the stored reply). An undo
    (``undoes``) acts only on a command that acted and was not undone. ``refuse``: keys
    refused (a business refusal, nothing done); ``flaky[key]``: ``"before"`` fails the
    first delivery transiently before acting, ``"after"`` acts then loses the reply;
    ``block``: the key whose reply never comes (the process dies)."""

    envelopes: list[tuple[str, Envelope]] = field(default_factory=list)
    replies: dict[str, dict[str, Any]] = field(default_factory=dict)
    effects: Counter[str] = field(default_factory=Counter)
    undone: list[str] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)
    flaky: dict[str, str] = field(default_factory=dict)
    block: str | None = None
    reached: asyncio.Event = field(default_factory=asyncio.Event)

    async def dispatch(self, target: str, envelope: Envelope) -> Mapping[str, Any]:
        key = envelope.idempotency_key
        assert key is not None
        self.envelopes.append((target, envelope))
        if key in self.replies:
            return self.replies[key]
        if key in self.refuse:
            raise StepFailed(f"{key} refused", retriable=False)
        mode = self.flaky.pop(key, None)
        if mode == "before":
            raise StepFailed(f"{key}: connection reset")
        undoes = envelope.payload.get("undoes")
        if undoes is None:
            self.effects[key] += 1
            reply: dict[str, Any] = {"resource_id": f"r:{key}"}
        elif undoes in self.replies and "undone" not in self.replies[undoes]:
            self.effects[key] += 1
            self.undone.append(str(undoes))
            reply = {"undone": True}
        else:
            reply = {"undone": False}
        self.replies[key] = reply
        if mode == "after":
            raise StepFailed(f"{key}: reply lost")
        if key == self.block:
            self.reached.set()
            await asyncio.Event().wait()
        return reply

    def sent(self, command: str) -> list[Envelope]:
        return [envelope for _, envelope in self.envelopes if envelope.name == command]

    def keys(self, command: str) -> list[str]:
        return [str(envelope.idempotency_key) for envelope in self.sent(command)]


def trip(*, lock: bool = False) -> SagaDefinition:
    """seats (a ForEach over dict items), rooms (a ForEach over plain items), pay."""
    return SagaDefinition("trip", trip_steps(lock=lock), compensation_retry=FAST)


def trip_steps(*, lock: bool = False, seats: str | FromStep = "seats") -> list[SagaStep]:
    return [
        SagaStep(
            "seats",
            ForEach(seats, Send("air.seat", "reserve", "booking_id", seat_no=Item("seat_no"))),
            compensation=ForEach(
                seats,
                Undo(
                    "air.seat",
                    "release",
                    "booking_id",
                    seat_no=Item("seat_no"),
                    from_result=("resource_id",),
                ),
            ),
            lock="acquire" if lock else None,
            retry=FAST,
        ),
        SagaStep(
            "rooms",
            ForEach("rooms", Send("hotel.room", "reserve", "booking_id", room=Item())),
            compensation=ForEach("rooms", Undo("hotel.room", "release", room=Item())),
            retry=FAST,
        ),
        SagaStep(
            "pay",
            Send("cards", "charge", "booking_id"),
            compensation=Undo("cards", "refund", "booking_id"),
            retry=FAST,
        ),
    ]


def seat_list(n: int) -> list[dict[str, Any]]:
    return [{"seat_no": f"{row}A"} for row in range(1, n + 1)]


def harness(store: ObservedStore, target: Target, **options: Any) -> Harness:
    return Harness(store, [trip(**options)], dispatch=target.dispatch)


async def run_trip(
    store: ObservedStore, target: Target, saga_id: str, seats: int, rooms: list[str], **options: Any
) -> tuple[Harness, SagaResult]:
    """The harness and the result of the ``trip`` saga ``saga_id``, booking ``seats`` seats
    (:func:`seat_list`) and ``rooms``; ``options`` go to :func:`trip`."""
    h = harness(store, target, **options)
    data = {"booking_id": "B", "seats": seat_list(seats), "rooms": rooms}
    return h, await h.orchestrator.run("trip", data, saga_id=saga_id)


def forward_result(h: Harness, saga_id: str, step: str) -> Mapping[str, Any]:
    (row,) = [
        row
        for row in h.store.step_log(saga_id)
        if row.step_name == step and row.phase == "forward" and row.status == "succeeded"
    ]
    return row.result or {}


@pytest.mark.parametrize("n", [1, 4])
@async_test
async def test_for_each_sends_one_command_per_item_with_distinct_stable_keys(
    store: ObservedStore, n: int
) -> None:
    target = Target()
    h, result = await run_trip(store, target, "t1", n, ["101", "102"])
    assert result.state is SagaState.COMPLETED, result.error
    keys = [item_key("t1:0:forward", i) for i in range(n)]
    assert target.keys("reserve")[:n] == keys == [f"t1:0:forward[{i}]" for i in range(n)]
    assert [dict(e.payload) for e in target.sent("reserve")[:n]] == [
        {"booking_id": "B", "seat_no": seat["seat_no"]} for seat in seat_list(n)
    ]
    assert [dict(e.payload) for e in target.sent("reserve")[n:]] == [
        {"booking_id": "B", "room": "101"},
        {"booking_id": "B", "room": "102"},
    ]
    assert target.keys("reserve")[n:] == ["t1:1:forward[0]", "t1:1:forward[1]"]
    assert target.keys("charge") == ["t1:2:forward"]
    assert set(target.effects.values()) == {1}
    assert forward_result(h, "t1", "seats") == {
        REPLIES: [{"resource_id": f"r:{key}"} for key in keys]
    }
    assert result.data[REPLIES] == [
        {"resource_id": "r:t1:1:forward[0]"},
        {"resource_id": "r:t1:1:forward[1]"},
    ], "the flat data has the latest fan-out's replies; FromStep reads any"


@async_test
async def test_a_refused_item_of_a_later_step_compensates_done_items_in_reverse(
    store: ObservedStore,
) -> None:
    target = Target(refuse={"t2:1:forward[2]"})
    h, result = await run_trip(store, target, "t2", 3, ["a", "b", "c", "d"])
    assert result.state is SagaState.COMPENSATED
    assert "item 2 of 4" in (result.error or "")
    assert h.log("t2", "rooms")[:2] == [
        ("rooms", "forward", "started", 1),
        ("rooms", "forward", "failed", 1),
    ], "a refusal part-way is not retried"
    # every item of the failed fan-out is undone latest first (3 and 2 never acted:
    # no-ops), then every item of the earlier one
    assert target.keys("release") == [f"t2:1:compensation[{i}]" for i in (3, 2, 1, 0)] + [
        f"t2:0:compensation[{i}]" for i in (2, 1, 0)
    ]
    assert [e.payload["undoes"] for e in target.sent("release")] == [
        f"t2:1:forward[{i}]" for i in (3, 2, 1, 0)
    ] + [f"t2:0:forward[{i}]" for i in (2, 1, 0)]
    assert target.undone == [f"t2:1:forward[{i}]" for i in (1, 0)] + [
        f"t2:0:forward[{i}]" for i in (2, 1, 0)
    ]
    seat_undos = [dict(e.payload) for e in target.sent("release")[4:]]
    assert seat_undos[0] == {
        "booking_id": "B",
        "seat_no": "3A",
        "undoes": "t2:0:forward[2]",
        "resource_id": "r:t2:0:forward[2]",
    }, "from_result reads the item's own forward reply"
    assert target.sent("release")[0].payload == {"room": "d", "undoes": "t2:1:forward[3]"}
    assert target.sent("charge") == []


@async_test
async def test_a_refused_first_item_is_a_plain_refusal_nothing_to_undo(
    store: ObservedStore,
) -> None:
    target = Target(refuse={"t3:1:forward[0]"})
    _, result = await run_trip(store, target, "t3", 2, ["a", "b"])
    assert result.state is SagaState.COMPENSATED
    assert target.keys("release") == ["t3:0:compensation[1]", "t3:0:compensation[0]"]


@pytest.mark.parametrize("mode", ["before", "after"])
@async_test
async def test_a_retried_fan_out_does_not_act_twice_on_done_items(
    store: ObservedStore, mode: str
) -> None:
    target = Target(flaky={"t4:1:forward[2]": mode})
    h, result = await run_trip(store, target, "t4", 1, ["a", "b", "c", "d"])
    assert result.state is SagaState.COMPLETED, result.error
    assert [row[2:] for row in h.log("t4", "rooms")] == [
        ("started", 1),
        ("failed", 1),
        ("started", 2),
        ("succeeded", 2),
    ]
    rooms = [key for key in target.keys("reserve") if key.startswith("t4:1:")]
    assert rooms == [f"t4:1:forward[{i}]" for i in (0, 1, 2, 0, 1, 2, 3)]
    assert {key: target.effects[key] for key in set(rooms)} == {key: 1 for key in set(rooms)}
    assert len(forward_result(h, "t4", "rooms")[REPLIES]) == 4


def test_a_fan_out_interrupted_by_a_crash_resumes_without_acting_twice(
    store: ObservedStore,
) -> None:
    target = Target(block="t5:1:forward[1]")
    h = harness(store, target)

    async def first_process() -> None:
        data = {"booking_id": "B", "seats": seat_list(2), "rooms": ["a", "b", "c"]}
        await h.orchestrator.start("trip", data, saga_id="t5")
        await target.reached.wait()
        await h.orchestrator.close()

    run(first_process)
    assert h.log("t5")[-1] == ("rooms", "forward", "started", 1)
    target.block = None

    async def second_process() -> None:
        orchestrator = h.new_orchestrator()
        assert await orchestrator.recover() == ["t5"]
        result = await orchestrator.wait("t5")
        assert result.state is SagaState.COMPLETED, result.error
        assert [row[2:] for row in h.log("t5", "rooms")] == [("started", 1), ("succeeded", 1)]
        assert target.keys("reserve")[2:] == [f"t5:1:forward[{i}]" for i in (0, 1, 0, 1, 2)]
        assert set(target.effects.values()) == {1}

    run(second_process)


@async_test
async def test_an_empty_list_sends_nothing_and_its_compensation_nothing_either(
    store: ObservedStore,
) -> None:
    target = Target(refuse={"t6:2:forward"})
    h, result = await run_trip(store, target, "t6", 0, [])
    assert result.state is SagaState.COMPENSATED
    assert forward_result(h, "t6", "seats") == {REPLIES: []}
    assert [e.name for _, e in target.envelopes] == ["charge"]
    assert [row[:3] for row in h.log("t6") if row[1] == "compensation"] == [
        ("rooms", "compensation", "started"),
        ("rooms", "compensation", "succeeded"),
        ("seats", "compensation", "started"),
        ("seats", "compensation", "succeeded"),
    ]


@async_test
async def test_every_item_carries_the_steps_semantic_lock(store: ObservedStore) -> None:
    target = Target(refuse={"t7:2:forward"})
    _, result = await run_trip(store, target, "t7", 3, [], lock=True)
    assert result.state is SagaState.COMPENSATED
    assert [e.payload.get("_lock") for e in target.sent("reserve")] == ["acquire"] * 3
    assert [e.payload.get("_lock") for e in target.sent("release")] == [None] * 3


def test_items_from_an_earlier_steps_result(store: ObservedStore) -> None:
    async def plan(ctx: StepContext) -> Mapping[str, Any]:
        return {"seats": seat_list(2)}

    async def clobber(ctx: StepContext) -> Mapping[str, Any]:
        return {"seats": "overwritten in the flat data"}

    seats = FromStep("plan", "seats")
    definition = SagaDefinition(
        "trip",
        [
            SagaStep("plan", plan, read_only=True),
            SagaStep("clobber", clobber, read_only=True),
            *trip_steps(seats=seats),
        ],
    )
    target = Target(refuse={"t8:4:forward"})
    h = Harness(store, [definition], dispatch=target.dispatch)

    async def scenario() -> None:
        data = {"booking_id": "B", "rooms": []}
        result = await h.orchestrator.run("trip", data, saga_id="t8")
        assert result.state is SagaState.COMPENSATED
        assert target.keys("reserve") == ["t8:2:forward[0]", "t8:2:forward[1]"]
        assert target.keys("release") == ["t8:2:compensation[1]", "t8:2:compensation[0]"]

    run(scenario)
    with pytest.raises(SagaDefinitionError, match="no such step"):
        SagaDefinition("x", [SagaStep("a", ForEach(FromStep("nope", "f"), Send("t", "c")))])
    assert RuntimeForEach is ForEach


@pytest.mark.parametrize(
    ("rooms", "message"),
    [(None, "has no such field"), ("101", "is a str, not a list"), ([{"x": 1}], "no field")],
)
@async_test
async def test_a_bad_list_or_item_fails_the_step_clearly_without_retry(
    store: ObservedStore, rooms: Any, message: str
) -> None:
    target = Target()
    definition = SagaDefinition(
        "rooms",
        [
            SagaStep(
                "rooms",
                ForEach("rooms", Send("hotel.room", "reserve", room=Item("number"))),
                compensation=ForEach("rooms", Undo("hotel.room", "release", room=Item("number"))),
                retry=FAST,
            )
        ],
    )
    h = Harness(store, [definition], dispatch=target.dispatch)
    data = {} if rooms is None else {"rooms": rooms}
    result = await h.orchestrator.run("rooms", data, saga_id="t9")
    assert result.state is SagaState.COMPENSATED
    assert message in (result.error or "") and "'rooms'" in (result.error or "")
    assert "t9" in (result.error or "")
    assert len(h.log("t9")) == 2, "not retried, nothing to compensate"
    assert target.envelopes == []
