"""Declarative steps (``Send``/``Undo``) and the saga's step defaults."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from sagacrew.runtime.saga import RetryPolicy
from sagacrew.runtime.saga import SagaDefinition
from sagacrew.runtime.saga import SagaStep
from sagacrew.runtime.saga import Send
from sagacrew.runtime.saga import StepContext
from sagacrew.runtime.saga import Undo
from tests.async_helpers import run


def context(sent: list[tuple[str, Mapping[str, Any]]], **options: Any) -> StepContext:
    async def dispatch(target: str, envelope: Any) -> Mapping[str, Any]:
        sent.append((f"{target}/{envelope.name}", dict(envelope.payload)))
        return {"ok": True}

    return StepContext(
        saga_id="S1",
        saga_name="book",
        step_name="reserve",
        step_index=2,
        phase=options.pop("phase", "forward"),
        attempt=1,
        idempotency_key="S1:2:forward:1",
        correlation_id="C1",
        causation_id="T1",
        data={"booking_id": "B1", "rooms": 2, "seats": 3},
        step_result=options.pop("step_result", {}),
        dispatch=dispatch,
    )


def test_send_copies_named_fields_and_renamed_ones_from_the_saga_data() -> None:
    sent: list[tuple[str, Mapping[str, Any]]] = []
    reply = run(Send("hotel.room", "reserve", "booking_id", quantity="rooms")(context(sent)))
    assert reply == {"ok": True}
    assert sent == [("hotel.room/reserve", {"booking_id": "B1", "quantity": 2})]


def test_undo_names_the_forward_key_and_copies_the_forward_result() -> None:
    sent: list[tuple[str, Mapping[str, Any]]] = []
    undo = Undo("cards", "void", "booking_id", from_result=("resource_id",))
    run(undo(context(sent, phase="compensation", step_result={"resource_id": "R9"})))
    run(undo(context(sent, phase="compensation")))  # the forward outcome is unknown
    assert sent == [
        ("cards/void", {"booking_id": "B1", "undoes": "S1:2:forward", "resource_id": "R9"}),
        ("cards/void", {"booking_id": "B1", "undoes": "S1:2:forward", "resource_id": ""}),
    ]


def test_a_missing_field_of_the_saga_data_fails_the_send() -> None:
    with pytest.raises(KeyError, match="flight_id"):
        run(Send("air.seat", "reserve", "flight_id")(context([])))


def test_steps_without_their_own_timeout_or_retry_take_the_sagas() -> None:
    patient = RetryPolicy(max_attempts=9)
    definition = SagaDefinition(
        "book",
        [
            SagaStep("a", Send("x", "a"), Undo("x", "undo_a")),
            SagaStep("b", Send("x", "b"), Undo("x", "undo_b"), timeout_s=7.0, retry=patient),
        ],
        step_timeout_s=2.0,
        step_retry=RetryPolicy(max_attempts=4),
    )
    first, second = definition.steps
    assert (first.attempt_timeout_s, first.retry_policy.max_attempts) == (2.0, 4)
    assert (second.attempt_timeout_s, second.retry_policy.max_attempts) == (7.0, 9)
    bare = SagaStep("c", Send("x", "c"))
    assert (bare.attempt_timeout_s, bare.retry_policy) == (5.0, RetryPolicy())
