"""SAGA-L002 negatives: every send carries both ids, or an object that carries them."""

from typing import Any

from sagacrew.runtime.messages import Envelope


async def reserve_step(ctx: Any, order_id: str) -> Any:
    return await ctx.send("inventory.stock", "reserve", {"order_id": order_id, "amount": 1})


def forward(incoming: Envelope, ref: Any) -> None:
    ref.tell(incoming.caused("create_ticket", {"order_id": "o-1"}))


def forward_env(env: Envelope, ref: Any) -> None:
    ref.tell(env)


async def ask_with_timeout(ref: Any, message: Any) -> Any:
    return await ref.ask(message, timeout_s=2.0)


def publish_with_ids(bus: Any, correlation_id: str, causation_id: str) -> None:
    bus.publish(
        "orders.order.approved",
        {"order_id": "o-1"},
        correlation_id=correlation_id,
        causation_id=causation_id,
    )


def send_magic_link(sender: Any, email: str, correlation_id: str, causation_id: str) -> Any:
    return sender.send_magic_link(email, correlation_id=correlation_id, causation_id=causation_id)


def publish_spread(bus: Any, **fields: Any) -> None:
    bus.publish("orders.order.approved", **fields)


def positional_envelope(corr: str, cause: str) -> Envelope:
    return Envelope("create_ticket", {}, corr, cause)


def send_signal(process: Any) -> None:
    process.send_signal(15)


def park(dead_letters: Any, path: str, message: Any) -> None:
    dead_letters.publish(path, message, "stopped")
