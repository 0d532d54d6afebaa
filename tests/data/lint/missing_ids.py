"""SAGA-L002 positives: sends without correlation_id or causation_id.

The first is the seed's magic-link call (GAP-004); the second the seed's saga event with
``causation_id: nil`` (DRIFT-004).
"""

from typing import Any

from sagacrew.runtime.messages import Envelope


def send_magic_link_step(sender: Any, token_data: Any, redirect: str) -> Any:
    return sender.send_magic_link(token_data.email, token_data.token, redirect)


def publish_onboarding(event_bus: Any, user_id: str, correlation_id: str) -> None:
    event_bus.publish_event(
        {
            "name": "user.onboarding.completed",
            "user_id": user_id,
            "correlation_id": correlation_id,
            "causation_id": None,
        }
    )


def notify(bus: Any, order_id: str, correlation_id: str) -> None:
    bus.publish("orders.order.approved", {"order_id": order_id}, correlation_id=correlation_id)


def build_command(order_id: str) -> Envelope:
    return Envelope("create_ticket", {"order_id": order_id}, correlation_id="c-1")  # type: ignore[call-arg]


async def ask_kitchen(kitchen: Any, order_id: str) -> Any:
    return await kitchen.ask(command="create_ticket", order_id=order_id, timeout_s=2.0)
