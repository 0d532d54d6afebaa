"""Sandbox gateways: a working stand-in for each external system, with a real ledger.

A generated system reaches an external system through a gateway actor. Until a user
plugs in the real client (subclass the generated gateway and override :meth:`perform`),
the sandbox does the bookkeeping a real system would: every call is recorded in the
``external_calls`` table under its idempotency key (so a redelivered call acts once),
an undo operation really marks the resource ``undone`` (or ``cancelled`` when its work
was still running), and long work completes later by an event delivered to the saga,
never by polling. Pending completions survive a restart: the gateway re-arms them from
the ledger when it starts.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from sagacrew.runtime.actors import Actor
from sagacrew.runtime.messages import Envelope
from sagacrew.runtime.store import ExternalCall, Store

Deliver = Callable[[str, str, Mapping[str, Any]], Awaitable[bool]]
"""``deliver(event_name, correlation_id, payload)``: hands a completion event to the sagas."""


@dataclass(frozen=True)
class GatewayOperation:
    """One operation of an external system.

    ``undoes`` names the operation this one reverses (it then needs ``resource_id`` in its
    payload); ``completion_event`` makes the work finish later, announced by that event.
    """

    undoes: str | None = None
    completion_event: str | None = None
    params: tuple[str, ...] = ()


class GatewayError(Exception):
    """A call the gateway cannot make (unknown operation, unknown resource)."""


class SandboxGateway(Actor):
    """Gateway actor to one external system, backed by the sandbox ledger."""

    system: ClassVar[str]
    operations: ClassVar[Mapping[str, GatewayOperation]]
    completion_delay_s: ClassVar[float] = 0.01

    def __init__(self, store: Store, deliver: Deliver) -> None:
        self._store = store
        self._deliver = deliver
        self._pending: dict[str, asyncio.TimerHandle] = {}
        self._completing: set[asyncio.Task[None]] = set()

    async def pre_start(self) -> None:
        for call in self._store.list_external_calls(system=self.system, status="running"):
            self._arm(call.idempotency_key)

    async def post_stop(self) -> None:
        for handle in self._pending.values():
            handle.cancel()
        self._pending.clear()

    async def receive(self, message: Any) -> Any:
        if not isinstance(message, Envelope):
            raise TypeError(f"{self.system} takes Envelope calls, got {type(message).__name__}")
        key = message.idempotency_key or message.message_id
        done = self._store.get_external_call(key)
        if done is not None:
            # A redelivered call acts once; if its work already completed, say so again:
            # the caller may have missed the completion event (e.g. its reply was lost).
            if done.status == "completed":
                self._arm(key, redeliver=True)
            return dict(done.response)
        operation = self.operations.get(message.name)
        if operation is None:
            raise GatewayError(f"{self.system} has no operation {message.name!r}")
        response = await self.perform(message.name, operation, message)
        status = str(response.get("status", "done"))
        now = time.time()
        self._store.record_external_call(
            ExternalCall(
                idempotency_key=key,
                system=self.system,
                operation=message.name,
                resource_id=str(response["resource_id"]),
                status=status,
                request=dict(message.payload),
                response=response,
                correlation_id=message.correlation_id,
                causation_id=message.message_id,
                created_at=now,
                updated_at=now,
            )
        )
        if status == "running":
            self._arm(key)
        return response

    async def perform(
        self, name: str, operation: GatewayOperation, message: Envelope
    ) -> dict[str, Any]:
        """Carry out the call; returns at least ``resource_id`` and ``status``.

        The sandbox marks undone resources in the ledger; a real client overrides this.
        """
        if operation.undoes is None:
            digest = hashlib.sha256(message.correlation_id.encode() + name.encode()).hexdigest()
            status = "running" if operation.completion_event else "done"
            return {"resource_id": f"{self.system}-{digest[:12]}", "status": status}
        resource_id = str(message.payload["resource_id"])
        rows = self._store.query(
            "SELECT idempotency_key FROM external_calls "
            "WHERE system = ? AND operation = ? AND resource_id = ?",
            (self.system, operation.undoes, resource_id),
        )
        target = self._store.get_external_call(str(rows[0][0])) if rows else None
        if target is None:
            raise GatewayError(
                f"{self.system}.{name}: no {operation.undoes} call made resource {resource_id}"
            )
        new_status = "cancelled" if target.status == "running" else "undone"
        if target.status in ("running", "done", "completed"):
            handle = self._pending.pop(target.idempotency_key, None)
            if handle is not None:
                handle.cancel()
            self._store.update_external_call(
                target.idempotency_key, status=new_status, updated_at=time.time()
            )
        return {"resource_id": resource_id, "status": new_status}

    def _arm(self, key: str, *, redeliver: bool = False) -> None:
        loop = asyncio.get_running_loop()

        def fire() -> None:
            task = loop.create_task(self._complete(key, redeliver=redeliver))
            self._completing.add(task)  # keep a reference until it is done
            task.add_done_callback(self._completing.discard)

        self._pending[key] = loop.call_later(self.completion_delay_s, fire)

    async def _complete(self, key: str, *, redeliver: bool = False) -> None:
        self._pending.pop(key, None)
        call = self._store.get_external_call(key)
        wanted = "completed" if redeliver else "running"
        if call is None or call.status != wanted:
            return  # cancelled or undone meanwhile: no completion to announce
        operation = self.operations[call.operation]
        assert operation.completion_event is not None
        if not redeliver:
            self._store.update_external_call(key, status="completed", updated_at=time.time())
        await self._deliver(
            operation.completion_event,
            call.correlation_id,
            {"resource_id": call.resource_id, "status": "completed", "result": {}},
        )
