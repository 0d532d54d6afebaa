"""Completion events from external systems: the one path by which long work completes.

An external operation that returns ``running`` completes later, when its system sends the
operation's ``completion_event`` (a webhook: ``POST /api/events`` under ``serve``, or
:meth:`SagaSystem.deliver_event` in code). :class:`InboundEvents` checks the event and
hands it to the saga:

- the name must be a completion event of one of the system's gateways (else 404);
- the payload is an object; its ``status`` (if any) is ``completed``, ``resource_id`` a
  string, ``result`` an object (else 400);
- the call is found by ``resource_id`` (what the gateway's call returned) or by the saga's
  ``correlation_id`` (else 404);
- the ledger row (``external_calls``) keeps the event id: the same event id again is a
  replay (409, and the completion is handed to the saga again, which acts at most once);
  another event for a call that already completed, or for a call that does not wait (done,
  undone, refused), is a conflict (409). Nothing is lost: the ledger is updated before the
  saga hears of it, and an event for a saga that already gave its step up (it compensated)
  makes the saga undo the late work, exactly once.

The sandbox, when no real ``perform`` is plugged in, completes its own work through
:func:`complete_call`, the same path.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sagacrew.runtime.externals._ledger import update_call
from sagacrew.runtime.store import ExternalCall, Store

__all__ = ["EventReceipt", "InboundError", "InboundEvent", "InboundEvents", "complete_call"]

Deliver = Callable[[str, str, Mapping[str, Any]], Awaitable[bool]]
"""``deliver(event_name, correlation_id, payload)``: hands a completion to the sagas."""

_WAITS = ("running", "cancelled", "unknown")
"""Ledger states a completion may arrive in (cancelled work may have finished anyway; work
whose reply was lost, ``unknown``, may have been done)."""


@dataclass(frozen=True)
class InboundEvent:
    """A completion event as an external system sends it."""

    name: str
    event_id: str
    payload: Mapping[str, Any]
    correlation_id: str | None = None
    resource_id: str | None = None


@dataclass(frozen=True)
class EventReceipt:
    """What became of an event: the call it completed, and whether a saga step took it
    (``False``: nothing waited, e.g. the saga had given the step up and undoes it)."""

    event_id: str
    system: str
    operation: str
    idempotency_key: str
    correlation_id: str
    delivered: bool


class InboundError(Exception):
    """An event that is refused: ``status`` (400, 404, 409), what is wrong and the fix."""

    def __init__(self, status: int, message: str, fix: str) -> None:
        super().__init__(f"{message}; {fix}")
        self.status = status
        self.message = message
        self.fix = fix


async def complete_call(
    store: Store, call: ExternalCall, event: InboundEvent, deliver: Deliver
) -> bool:
    """Mark ``call`` completed by ``event`` in the ledger (its id kept, to know a replay),
    then hand the event to the saga; return whether a step took it."""
    resource_id = call.resource_id or _text(event.payload.get("resource_id")) or "none"
    response = {
        **call.response,
        "resource_id": resource_id,
        "status": "completed",
        "event_id": event.event_id,
        "completion_event": event.name,
    }
    call = await update_call(
        store,
        call.idempotency_key,
        status="completed",
        updated_at=time.time(),
        response=response,
        resource_id=resource_id,
    )
    return await hand_over(call, event, deliver)


async def hand_over(call: ExternalCall, event: InboundEvent, deliver: Deliver) -> bool:
    """Deliver ``event`` to the saga of ``call`` (payload with the call's resource id)."""
    body = {"status": "completed", "result": {}, **event.payload, "resource_id": call.resource_id}
    return await deliver(event.name, call.correlation_id, body)


class InboundEvents:
    """Receives completion events for a system's gateways (``completions``: event name →
    ``(system, operation)``, from the gateways' declarations)."""

    def __init__(
        self, store: Store, completions: Mapping[str, tuple[str, str]], deliver: Deliver
    ) -> None:
        self._store = store
        self._completions = dict(completions)
        self._deliver = deliver

    def system_of(self, name: str) -> str:
        """The external system whose completion event ``name`` is (404 if none)."""
        return self._route(name)[0]

    async def receive(self, event: InboundEvent) -> EventReceipt:
        """Check ``event``, record it in the ledger and hand it to the saga."""
        system, operation = self._route(event.name)
        _check_payload(event.payload)
        resource_id = event.resource_id or _text(event.payload.get("resource_id"))
        call = self._call(system, operation, resource_id, event.correlation_id)
        seen = str(call.response.get("event_id") or "")
        if call.status == "completed" and seen == event.event_id:
            delivered = await hand_over(call, event, self._deliver)
            raise InboundError(
                409,
                f"event {event.event_id!r} was received already (it completed call "
                f"{call.idempotency_key!r}; handed to the saga again: delivered={delivered})",
                "nothing to do: the event is recorded; do not send it again",
            )
        if call.status not in _WAITS:
            by = f" by event {seen!r}" if seen else ""
            raise InboundError(
                409,
                f"call {call.idempotency_key!r} of {system}.{operation} is {call.status}{by}; "
                "it waits for no completion",
                "send each completion once, for a call that is still running",
            )
        delivered = await complete_call(self._store, call, event, self._deliver)
        return EventReceipt(
            event.event_id, system, operation, call.idempotency_key, call.correlation_id, delivered
        )

    def _route(self, name: str) -> tuple[str, str]:
        if name not in self._completions:
            known = sorted(self._completions) or ["none"]
            raise InboundError(
                404,
                f"no external operation completes with event {name!r}",
                f"send one of the system's completion events: {', '.join(known)}",
            )
        return self._completions[name]

    def _call(
        self, system: str, operation: str, resource_id: str | None, correlation_id: str | None
    ) -> ExternalCall:
        if resource_id is None and correlation_id is None:
            raise InboundError(
                400,
                "the event names neither a resource_id nor a correlation_id",
                "send the resource_id the call returned (or the saga's correlation_id)",
            )
        if resource_id is not None:
            key = self._store.external_call_key(system, operation, resource_id)
            call = self._store.get_external_call(key) if key is not None else None
            calls = [call] if call is not None else []
        else:
            calls = self._store.list_external_calls(system=system)
        found = [
            c
            for c in calls
            if c.operation == operation
            and (correlation_id is None or c.correlation_id == correlation_id)
        ]
        if not found:
            what = f"resource_id {resource_id!r}" if resource_id else "correlation_id"
            raise InboundError(
                404,
                f"no call of {system}.{operation} has {what}"
                + (f" {correlation_id!r}" if not resource_id else ""),
                "send the resource_id the call returned; the event is not recorded",
            )
        return found[-1]


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _check_payload(payload: Any) -> None:
    """A completion's payload: an object; ``status`` ``completed``, ``resource_id`` a
    string, ``result`` an object, when given (the taxonomy's completion schema)."""
    if not isinstance(payload, Mapping):
        raise InboundError(400, "the payload is not a JSON object", "send an object")
    problems = []
    if "status" in payload and payload["status"] != "completed":
        problems.append(f"status must be 'completed', not {payload['status']!r}")
    if "resource_id" in payload and not isinstance(payload["resource_id"], str):
        problems.append("resource_id must be a string")
    if "result" in payload and not isinstance(payload["result"], Mapping):
        problems.append("result must be an object")
    if problems:
        raise InboundError(
            400,
            "the payload does not match the completion schema: " + "; ".join(problems),
            "send {resource_id: str, status: 'completed', result: {...}}",
        )
