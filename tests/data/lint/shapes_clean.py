"""The same shapes done right: nothing here may be reported."""

import asyncio
import logging
import uuid
from typing import Any

logger = logging.getLogger(__name__)


async def send_magic_link(ctx: Any, email: str, token: str) -> None:
    await ctx.events.publish(
        {
            "name": "user.magic_link.sent",
            "correlation_id": ctx.correlation_id,
            "causation_id": ctx.causation_id,
            "email": email,
        }
    )
    await ctx.mailer.send(
        email=email, token=token, correlation_id=ctx.correlation_id, causation_id=ctx.causation_id
    )


async def compensate_reserve_stock(ctx: Any) -> None:
    logger.warning("compensating reserve_stock for %s", ctx.saga_id)
    await ctx.inventory.release(ctx.step_result["sku"], ctx.step_result["amount"])


async def charge(http: Any, order: Any, incoming: Any) -> Any:
    headers = {"X-Correlation-ID": incoming.correlation_id, "X-Causation-ID": incoming.id}
    delay_s = 0.1
    for _attempt in range(5):
        response = await http.post(
            "https://payments.example/charges", json={"amount": order.total}, headers=headers
        )
        if response.status_code < 500:
            return response
        await asyncio.sleep(delay_s)
        delay_s = min(delay_s * 2, 5.0)
    raise ConnectionError("payments unavailable")


async def heartbeat(transport: Any, stop: asyncio.Event, interval_s: float) -> None:
    while not stop.is_set():
        await transport.ping()
        await asyncio.sleep(interval_s)


def on_order_placed(message: Any, bus: Any) -> None:
    correlation_id = message.correlation_id or str(uuid.uuid4())
    bus.publish(
        "orders.order.approved",
        {"order_id": message.order_id},
        correlation_id=correlation_id,
        causation_id=message.id,
    )


def start_checkout(api_request: Any, bus: Any) -> str:
    correlation_id = str(uuid.uuid4())
    bus.publish(
        "checkout.session.started",
        {"cart": api_request.cart_id},
        correlation_id=correlation_id,
        causation_id=correlation_id,
    )
    return correlation_id
