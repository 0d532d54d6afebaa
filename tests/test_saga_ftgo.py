"""The FTGO CreateOrderSaga (Richardson, "Microservices Patterns", ch. 4) end to end:
create order -> validate consumer -> create ticket -> authorize card (pivot) ->
confirm ticket -> approve order."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

import pytest

from sagacrew.runtime.messages import Envelope
from sagacrew.runtime.saga import RetryPolicy
from sagacrew.runtime.saga import SagaDefinition
from sagacrew.runtime.saga import SagaOrchestrator
from sagacrew.runtime.saga import SagaState
from sagacrew.runtime.saga import SagaStep
from sagacrew.runtime.saga import StepContext
from sagacrew.runtime.saga import StepFailed
from sagacrew.runtime.store import Store
from sagacrew.runtime.store import open_store


@dataclass
class Ftgo:
    """Order, consumer, kitchen and accounting services; each command acts once per key."""

    orders: dict[str, str] = field(default_factory=dict)
    tickets: dict[str, str] = field(default_factory=dict)
    authorizations: dict[str, int] = field(default_factory=dict)
    processed: dict[str, dict[str, Any]] = field(default_factory=dict)
    commands: list[str] = field(default_factory=list)
    confirm_outages: int = 0
    card_limit_cents: int = 10_000
    blocked_consumers: set[str] = field(default_factory=set)

    async def dispatch(self, target: str, envelope: Envelope) -> Mapping[str, Any]:
        assert envelope.idempotency_key and envelope.correlation_id and envelope.causation_id
        if envelope.idempotency_key in self.processed:
            return self.processed[envelope.idempotency_key]
        p = envelope.payload
        if envelope.name == "confirm_ticket" and self.confirm_outages > 0:
            self.confirm_outages -= 1
            raise ConnectionError("kitchen service unavailable")
        self.commands.append(envelope.name)
        reply: dict[str, Any]
        match envelope.name:
            case "create_order":
                self.orders[p["order_id"]] = "pending"
                reply = {"order_status": "pending"}
            case "reject_order":
                self.orders[p["order_id"]] = "rejected"
                reply = {"order_status": "rejected"}
            case "approve_order":
                self.orders[p["order_id"]] = "approved"
                reply = {"order_status": "approved"}
            case "validate_order_for_consumer":
                reply = {"consumer_ok": p["consumer_id"] not in self.blocked_consumers}
            case "create_ticket":
                ticket_id = f"T-{p['order_id']}"
                self.tickets[ticket_id] = "pending"
                reply = {"ticket_id": ticket_id}
            case "reject_ticket":
                self.tickets[p["ticket_id"]] = "rejected"
                reply = {}
            case "confirm_ticket":
                self.tickets[p["ticket_id"]] = "confirmed"
                reply = {}
            case "authorize_card":
                ok = p["total_cents"] <= self.card_limit_cents
                if ok:
                    self.authorizations[p["order_id"]] = p["total_cents"]
                reply = {"authorized": ok}
            case other:
                raise AssertionError(f"unknown command {other}")
        self.processed[envelope.idempotency_key] = reply
        return reply


async def create_order(ctx: StepContext) -> Mapping[str, Any]:
    payload = {k: ctx.data[k] for k in ("order_id", "consumer_id", "total_cents")}
    return await ctx.send("ordering.order", "create_order", payload)


async def reject_order(ctx: StepContext) -> Mapping[str, Any]:
    return await ctx.send("ordering.order", "reject_order", {"order_id": ctx.data["order_id"]})


async def validate_consumer(ctx: StepContext) -> Mapping[str, Any]:
    reply = await ctx.send(
        "consumers.consumer",
        "validate_order_for_consumer",
        {"consumer_id": ctx.data["consumer_id"], "total_cents": ctx.data["total_cents"]},
    )
    if not reply["consumer_ok"]:
        raise StepFailed(f"consumer {ctx.data['consumer_id']} may not order", retriable=False)
    return reply


async def create_ticket(ctx: StepContext) -> Mapping[str, Any]:
    return await ctx.send("kitchen.ticket", "create_ticket", {"order_id": ctx.data["order_id"]})


async def reject_ticket(ctx: StepContext) -> Mapping[str, Any]:
    ticket_id = ctx.step_result["ticket_id"]
    return await ctx.send("kitchen.ticket", "reject_ticket", {"ticket_id": ticket_id})


async def authorize_card(ctx: StepContext) -> Mapping[str, Any]:
    payload = {k: ctx.data[k] for k in ("order_id", "consumer_id", "total_cents")}
    reply = await ctx.send("payment_gateway", "authorize_card", payload)
    if not reply["authorized"]:
        raise StepFailed("card authorisation declined", retriable=False)
    return reply


async def confirm_ticket(ctx: StepContext) -> Mapping[str, Any]:
    return await ctx.send("kitchen.ticket", "confirm_ticket", {"ticket_id": ctx.data["ticket_id"]})


async def approve_order(ctx: StepContext) -> Mapping[str, Any]:
    return await ctx.send("ordering.order", "approve_order", {"order_id": ctx.data["order_id"]})


QUICK = RetryPolicy(max_attempts=3, initial_backoff_s=0.001, jitter=0.1, max_backoff_s=0.01)

CREATE_ORDER = SagaDefinition(
    name="create_order",
    steps=[
        SagaStep("create_order", create_order, reject_order, retry=QUICK),
        SagaStep("validate_consumer", validate_consumer, read_only=True, retry=QUICK),
        SagaStep("create_ticket", create_ticket, reject_ticket, retry=QUICK),
        SagaStep("authorize_card", authorize_card, pivot=True, retry=QUICK),
        SagaStep("confirm_ticket", confirm_ticket, retry=QUICK),
        SagaStep("approve_order", approve_order, retry=QUICK),
    ],
    deadline_s=10.0,
    compensation_retry=QUICK,
)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(f"sqlite://{tmp_path / 'ftgo.db'}?synchronous=OFF")
    yield opened
    opened.close()


def run_order(store: Store, ftgo: Ftgo, total_cents: int = 2_500, consumer: str = "c-1") -> Any:
    async def scenario() -> Any:
        orchestrator = SagaOrchestrator(store, [CREATE_ORDER], dispatch=ftgo.dispatch)
        result = await orchestrator.run(
            "create_order",
            {"order_id": "o-1", "consumer_id": consumer, "total_cents": total_cents},
        )
        return result, orchestrator.metrics

    return asyncio.run(scenario())


def test_create_order_saga_all_steps_succeed_and_the_order_is_approved(store: Store) -> None:
    ftgo = Ftgo()
    result, _ = run_order(store, ftgo)
    assert result.state is SagaState.COMPLETED
    assert ftgo.orders == {"o-1": "approved"}
    assert ftgo.tickets == {"T-o-1": "confirmed"}
    assert ftgo.authorizations == {"o-1": 2_500}
    assert result.data["ticket_id"] == "T-o-1"


def test_consumer_validation_failure_rejects_the_order_and_creates_no_ticket(
    store: Store,
) -> None:
    ftgo = Ftgo(blocked_consumers={"c-bad"})
    result, _ = run_order(store, ftgo, consumer="c-bad")
    assert result.state is SagaState.COMPENSATED
    assert ftgo.orders == {"o-1": "rejected"}
    assert ftgo.tickets == {}
    assert ftgo.commands == ["create_order", "validate_order_for_consumer", "reject_order"]
    assert result.error is not None and "may not order" in result.error


def test_card_authorisation_failure_rejects_ticket_then_order(store: Store) -> None:
    ftgo = Ftgo(card_limit_cents=1_000)
    result, _ = run_order(store, ftgo, total_cents=5_000)
    assert result.state is SagaState.COMPENSATED
    assert ftgo.commands[-2:] == ["reject_ticket", "reject_order"]
    assert ftgo.tickets == {"T-o-1": "rejected"}
    assert ftgo.orders == {"o-1": "rejected"}
    assert ftgo.authorizations == {}


def test_confirm_ticket_transient_failure_is_retried_and_the_order_approved(
    store: Store,
) -> None:
    ftgo = Ftgo(confirm_outages=4)
    result, metrics = run_order(store, ftgo)
    assert result.state is SagaState.COMPLETED
    assert ftgo.orders == {"o-1": "approved"}
    assert ftgo.tickets == {"T-o-1": "confirmed"}
    assert metrics.retries == 4, "after the pivot, retries go beyond max_attempts"
    failed = store.query(
        "SELECT attempt, error FROM saga_step_log WHERE step_name = ? AND status = 'failed' "
        "ORDER BY seq",
        ("confirm_ticket",),
    )
    assert [attempt for attempt, _ in failed] == [1, 2, 3, 4]
    assert all("kitchen service unavailable" in error for _, error in failed)
