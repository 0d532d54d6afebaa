"""SAGA-L00x positives in shapes the generated code never uses (written the way teams write)."""

import asyncio
import uuid
from typing import Any


async def send_magic_link(ctx: Any, email: str, token: str) -> None:
    await ctx.events.publish(
        {
            "name": "user.magic_link.sent",
            "correlation_id": str(uuid.uuid4()),
            "causation_id": None,
            "email": email,
        }
    )
    await ctx.mailer.send(email=email, token=token)


def finish_run(bus: Any, run: Any, incoming: Any) -> None:
    bus.publish(
        {
            "name": "ml.run.complete",
            "run_id": run.id,
            "correlation_id": incoming.correlation_id,
            "causation_id": incoming.id,
        }
    )


async def charge(http: Any, order: Any) -> Any:
    return await http.post("https://payments.example/charges", json={"amount": order.total})


async def record(redis: Any, order: Any) -> None:
    await redis.xadd("events", {"event": "orders.order.approved", "order_id": order.id})


def refund_message(incoming: Any, amount: int) -> dict[str, Any]:
    message = {
        "event_type": "payments.refund.issued",
        "amount": amount,
        "correlation_id": incoming.correlation_id,
    }
    return message


class ReserveStock:
    async def compensate(self, ctx: Any) -> None:
        print("compensating reserve_stock")


async def wait_for_export(client: Any, export_id: str) -> Any:
    while True:
        response = await client.get(f"/exports/{export_id}")
        if response.json()["state"] == "SUCCEEDED":
            return response.json()
        await asyncio.sleep(10)
