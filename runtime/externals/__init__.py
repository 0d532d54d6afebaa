"""Sandbox gateways: how a generated system reaches its external systems.

:class:`SandboxGateway` is the gateway actor a generated system subclasses for each
external system; until the real client is plugged in (override ``perform``), it keeps the
external-calls ledger in the store (``external_calls``: one row per idempotency key, so a
redelivered call acts once, and an undo marks the call it names ``undone`` or leaves a
tombstone), and completes long work later with an event to the saga, never by polling.
:class:`GatewayOperation` describes one operation, :class:`GatewayError` is a call the
gateway cannot make, :class:`GatewayRefusal` is the external system saying no (raised
from ``perform``: a business refusal, recorded ``refused``, the saga compensates), and
:class:`LateCompletions` injects completion events that arrive after the saga stopped
waiting. See :mod:`sagacrew.runtime.externals.sandbox`.
"""

from sagacrew.runtime.externals._late import LateCompletions
from sagacrew.runtime.externals.inbound import (
    EventReceipt,
    InboundError,
    InboundEvent,
    InboundEvents,
)
from sagacrew.runtime.externals.sandbox import (
    NOTHING_TO_UNDO,
    REFUSED,
    Deliver,
    GatewayError,
    GatewayOperation,
    GatewayRefusal,
    SandboxGateway,
)

__all__ = [
    "NOTHING_TO_UNDO",
    "REFUSED",
    "Deliver",
    "EventReceipt",
    "GatewayError",
    "GatewayOperation",
    "GatewayRefusal",
    "InboundError",
    "InboundEvent",
    "InboundEvents",
    "LateCompletions",
    "SandboxGateway",
]
