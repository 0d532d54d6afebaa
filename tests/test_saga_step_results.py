"""Per-step results: a step sends a field of a named earlier step's result (``FromStep``),
which a later step returning a field of the same name does not overwrite; the results
are kept per step in the step log, so they survive a crash and recovery."""

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

from sagacrew.runtime import FromStep as RuntimeFromStep
from sagacrew.runtime.messages import Envelope
from sagacrew.runtime.saga import FromStep
from sagacrew.runtime.saga import Item
from sagacrew.runtime.saga import RetryPolicy
from sagacrew.runtime.saga import SagaDefinition
from sagacrew.runtime.saga import SagaDefinitionError
from sagacrew.runtime.saga import SagaState
from sagacrew.runtime.saga import SagaStep
from sagacrew.runtime.saga import Send
from sagacrew.runtime.saga import StepContext
from sagacrew.runtime.saga import StepFailed
from sagacrew.runtime.saga import Undo

FAST = RetryPolicy(max_attempts=3, initial_backoff_s=0.1, jitter=0.0)


@dataclass
class Provider:
    """A target that makes one resource per command (``resource_id``: ``f"{target}-{n}"``),
    deduplicating by idempotency key; an undo (``undoes``) acts only on a command that
    acted and was not undone. ``refuse``: commands answered with a business refusal."""

    sent: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    replies: dict[str, dict[str, Any]] = field(default_factory=dict)
    effects: Counter[str] = field(default_factory=Counter)
    undone: list[str] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)
    block: str | None = None
    reached: asyncio.Event | None = None

    async def dispatch(self, target: str, envelope: Envelope) -> Mapping[str, Any]:
        key = envelope.idempotency_key
        assert key is not None
        self.sent.append((target, envelope.name, dict(envelope.payload)))
        if key in self.replies:
            return self.replies[key]
        if envelope.name in self.refuse:
            raise StepFailed(f"{envelope.name} refused", retriable=False)
        undoes = envelope.payload.get("undoes")
        if undoes is not None:
            acted = undoes in self.replies and undoes not in self.undone
            reply: dict[str, Any] = {"undone": acted}
            if acted:
                self.undone.append(str(undoes))
                self.effects[key] += 1
        else:
            self.effects[key] += 1
            reply = {"resource_id": f"{target}-{len(self.effects)}", "command": envelope.name}
        self.replies[key] = reply
        if envelope.name == self.block and self.reached is not None:
            self.reached.set()
            await asyncio.Event().wait()  # the process dies before the reply arrives
        return reply

    def payloads(self, command: str) -> list[dict[str, Any]]:
        return [payload for _, name, payload in self.sent if name == command]


def booking(*, card_field: str = "resource_id", fail_last: bool = False) -> SagaDefinition:
    """reserve_seat and reserve_room both return ``resource_id``; charge names each one by
    its step; confirm (after it) reads charge's result and the seat's again."""
    return SagaDefinition(
        "booking",
        [
            SagaStep(
                name="reserve_seat",
                action=Send("air.seat", "reserve", "booking_id"),
                compensation=Undo("air.seat", "release", "booking_id"),
            ),
            SagaStep(
                name="reserve_room",
                action=Send(
                    "hotel.room",
                    "reserve",
                    "booking_id",
                    flight_id=FromStep("reserve_seat", "resource_id"),
                    quantity="rooms",
                ),
                compensation=Undo(
                    "hotel.room", "release", "booking_id", from_result=("resource_id",)
                ),
            ),
            SagaStep(
                name="charge",
                action=Send(
                    "cards",
                    "charge",
                    seat=FromStep("reserve_seat", "resource_id"),
                    room=FromStep("reserve_room", card_field),
                    latest="resource_id",
                ),
                compensation=Undo("cards", "refund", seat=FromStep("reserve_seat", "resource_id")),
            ),
            SagaStep(
                name="confirm",
                action=Send(
                    "mail",
                    "confirm" if not fail_last else "refused_confirm",
                    charge=FromStep("charge", "resource_id"),
                    seat=FromStep("reserve_seat", "resource_id"),
                ),
                compensation=Undo("mail", "retract"),
            ),
        ],
        step_retry=FAST,
        compensation_retry=FAST,
    )


@async_test
async def test_from_step_sends_each_steps_own_field_when_two_steps_return_the_same_name(
    store: ObservedStore,
) -> None:
    provider = Provider()
    h = Harness(store, [booking()], dispatch=provider.dispatch)
    result = await h.orchestrator.run("booking", {"booking_id": "B1", "rooms": 2})
    assert result.state is SagaState.COMPLETED, result.error
    assert provider.payloads("reserve")[1] == {
        "booking_id": "B1",
        "flight_id": "air.seat-1",
        "quantity": 2,
    }
    # the flat merge still works (the latest step's field wins), next to FromStep
    assert provider.payloads("charge") == [
        {"seat": "air.seat-1", "room": "hotel.room-2", "latest": "hotel.room-2"}
    ]
    assert provider.payloads("confirm") == [{"charge": "cards-3", "seat": "air.seat-1"}]
    # the saga's data is unchanged in shape: input merged with results, no reserved key
    saga = store.get_saga(result.saga_id)
    assert saga is not None
    assert set(saga.data) == {"booking_id", "rooms", "resource_id", "command"}
    assert result.data["resource_id"] == "mail-4"


@async_test
async def test_the_context_offers_earlier_steps_results_read_only(store: ObservedStore) -> None:
    seen: list[Mapping[str, Mapping[str, Any]]] = []

    async def look(ctx: StepContext) -> Mapping[str, Any]:
        seen.append(ctx.step_results)
        with pytest.raises(TypeError):
            ctx.step_results["a"] = {}  # type: ignore[index]
        with pytest.raises(TypeError):
            ctx.step_results["a"]["x"] = 2  # type: ignore[index]
        return {"x": 3}

    async def make(ctx: StepContext) -> Mapping[str, Any]:
        return {"x": 1, "y": "a"}

    definition = SagaDefinition(
        "look",
        [
            SagaStep("a", make, read_only=True),
            SagaStep("b", look, read_only=True),
            SagaStep("c", look, read_only=True),
        ],
    )
    h = Harness(store, [definition])
    result = await h.orchestrator.run("look", {"x": 0})
    assert result.state is SagaState.COMPLETED
    assert [{k: dict(v) for k, v in results.items()} for results in seen] == [
        {"a": {"x": 1, "y": "a"}},
        {"a": {"x": 1, "y": "a"}, "b": {"x": 3}},
    ]
    assert result.data["x"] == 3


@async_test
async def test_a_missing_field_of_a_referenced_result_fails_the_step_clearly_without_retry(
    store: ObservedStore,
) -> None:
    provider = Provider()
    h = Harness(store, [booking(card_field="room_no")], dispatch=provider.dispatch)
    result = await h.orchestrator.run("booking", {"booking_id": "B2", "rooms": 1})
    assert result.state is SagaState.COMPENSATED
    error = result.error or ""
    for part in (result.saga_id, "booking", "'charge'", "'reserve_room'", "'room_no'"):
        assert part in error, (part, error)
    assert "resource_id" in error, "the message lists the fields the result has"
    assert h.log(result.saga_id, "charge") == [
        ("charge", "forward", "started", 1),
        ("charge", "forward", "failed", 1),
    ], "not retried, and not compensated: nothing was sent"
    assert provider.payloads("charge") == []
    assert [name for _, name, _ in provider.sent if name == "release"] == ["release"] * 2


@async_test
async def test_a_reference_to_a_step_that_has_not_succeeded_fails_clearly(
    store: ObservedStore,
) -> None:
    async def early(ctx: StepContext) -> Mapping[str, Any]:
        return {"value": FromStep("later", "resource_id").resolve(ctx)}

    async def later(ctx: StepContext) -> Mapping[str, Any]:
        return {"resource_id": "r"}

    definition = SagaDefinition(
        "early",
        [SagaStep("early", early, read_only=True), SagaStep("later", later, read_only=True)],
    )
    h = Harness(store, [definition])
    result = await h.orchestrator.run("early", {})
    assert result.state is SagaState.COMPENSATED
    error = result.error or ""
    assert result.saga_id in error and "'early'" in error and "'later'" in error
    assert "has not succeeded" in error and "'resource_id'" in error
    assert len(h.log(result.saga_id, "early")) == 2, "not retried"


def test_references_to_unknown_or_later_steps_are_refused_when_the_saga_is_defined() -> None:
    def saga(action: Any, compensation: Any = None) -> SagaDefinition:
        return SagaDefinition(
            "s",
            [
                SagaStep("a", Send("x", "a"), compensation=Undo("x", "undo_a")),
                SagaStep("b", action, compensation=compensation or Undo("x", "undo_b")),
                SagaStep("c", Send("x", "c"), compensation=Undo("x", "undo_c")),
            ],
        )

    with pytest.raises(SagaDefinitionError, match="no such step"):
        saga(Send("x", "b", v=FromStep("nope", "f")))
    with pytest.raises(SagaDefinitionError, match="does not run before it"):
        saga(Send("x", "b", v=FromStep("c", "f")))
    with pytest.raises(SagaDefinitionError, match="does not run before it"):
        saga(Send("x", "b", v=FromStep("b", "f")))
    with pytest.raises(SagaDefinitionError, match="from_result"):
        saga(Send("x", "b"), Undo("x", "undo_b", v=FromStep("b", "f")))
    with pytest.raises(SagaDefinitionError, match="only exists inside ForEach"):
        saga(Send("x", "b", v=Item()))
    with pytest.raises(SagaDefinitionError, match="FromStep"):
        Send("x", "b", v=3)  # type: ignore[arg-type]
    assert saga(Send("x", "b", v=FromStep("a", "f")), Undo("x", "u", v=FromStep("a", "f")))
    assert RuntimeFromStep is FromStep


def test_step_results_survive_a_crash_and_recovery(store: ObservedStore) -> None:
    """The process dies while ``charge`` waits for its reply; the new one re-sends it with
    the same fields (read from the step log), and when ``confirm`` is refused, the
    compensations read the earlier results too."""
    provider = Provider(block="charge")
    h = Harness(store, [booking(fail_last=True)], dispatch=provider.dispatch)
    provider.refuse.add("refused_confirm")

    async def first_process() -> str:
        provider.reached = asyncio.Event()
        saga_id = await h.orchestrator.start("booking", {"booking_id": "B3", "rooms": 1})
        await provider.reached.wait()
        await h.orchestrator.close()
        return saga_id

    saga_id = run(first_process)
    assert h.log(saga_id)[-1] == ("charge", "forward", "started", 1)
    provider.block = None

    async def second_process() -> None:
        result = await h.recover_to_the_end(saga_id)
        assert result.state is SagaState.COMPENSATED
        charges = provider.payloads("charge")
        assert charges == [charges[0]] * 2, "re-sent with the same payload"
        assert charges[0] == {
            "seat": "air.seat-1",
            "room": "hotel.room-2",
            "latest": "hotel.room-2",
        }
        assert provider.effects[f"{saga_id}:2:forward"] == 1, "charged once"
        assert provider.payloads("refund") == [
            {"seat": "air.seat-1", "undoes": f"{saga_id}:2:forward"}
        ]
        assert provider.undone == [f"{saga_id}:{i}:forward" for i in (2, 1, 0)]
        releases = provider.payloads("release")
        assert releases[0]["resource_id"] == "hotel.room-2"

    run(second_process)
