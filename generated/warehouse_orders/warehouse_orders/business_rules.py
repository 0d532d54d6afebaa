# Created once by sagacrew from warehouse_orders.yaml: this file is yours. `sagacrew generate` never overwrites it.
"""Business rules of warehouse_orders: the part of the system sagacrew leaves to you.

Each class below subclasses a generated base and replaces it in the running system
(see app.py). Add rules by overriding, for an aggregate, ``broken_invariants`` (call
``super()`` to keep the spec's), and for a gateway, ``perform`` to call the real system
instead of the sandbox ledger. A class you delete falls back to the generated base;
a base added by a later spec change runs as generated until you subclass it here.

When the external system says no (e.g. card declined), raise
``sagacrew.runtime.GatewayRefusal(reason)`` from ``perform``: the saga step fails without
retrying, the saga compensates its done steps, and the gateway actor is not restarted.
"""

from __future__ import annotations

from typing import Any

from sagacrew.runtime import Envelope, GatewayOperation, GatewayRefusal

from .actors import (
    OrderActorBase,
    StockItemActorBase,
)
from .gateways import (
    CreditBureauGatewayBase,
    PaymentsGatewayBase,
)


class OrderActor(OrderActorBase):
    """sales.order: the spec's rules, plus any you add here."""


class StockItemActor(StockItemActorBase):
    """inventory.stock_item: the spec's rules, plus any you add here."""


BLOCKED_CUSTOMERS = ("-13",)
"""Ids ending so are customers the bureau refuses (a stand-in for its real answer)."""


class CreditBureauGateway(CreditBureauGatewayBase):
    """credit_bureau: the sandbox, except that the bureau refuses blocked customers."""

    async def perform(
        self, name: str, operation: GatewayOperation, message: Envelope
    ) -> dict[str, Any]:
        customer = str(message.payload.get("customer_id", ""))
        if name == "check_credit" and customer.endswith(BLOCKED_CUSTOMERS):
            raise GatewayRefusal(f"customer {customer} is blocked by the credit bureau")
        return await super().perform(name, operation, message)


class PaymentsGateway(PaymentsGatewayBase):
    """payments: the sandbox until you override ``perform`` with the real client."""
