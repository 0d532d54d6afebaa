# Created once by sagacrew from order_fulfilment.yaml: this file is yours. `sagacrew generate` never overwrites it.
"""Business rules of order_fulfilment: the part of the system sagacrew leaves to you.

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

from .actors import (
    ConsumerActorBase,
    OrderActorBase,
    TicketActorBase,
)
from .gateways import (
    PaymentGatewayBase,
)


class OrderActor(OrderActorBase):
    """ordering.order: the spec's rules, plus any you add here."""


class ConsumerActor(ConsumerActorBase):
    """consumers.consumer: the spec's rules, plus any you add here."""


class TicketActor(TicketActorBase):
    """kitchen.ticket: the spec's rules, plus any you add here."""


class PaymentGateway(PaymentGatewayBase):
    """payment_gateway: the sandbox until you override ``perform`` with the real client."""
