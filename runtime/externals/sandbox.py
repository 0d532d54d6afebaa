"""Sandbox gateways: a working stand-in for each external system, with a real ledger.

A generated system reaches an external system through a gateway actor. Until a user
plugs in the real client (subclass the generated gateway and override :meth:`perform`),
the sandbox stands in for the system; with or without it, the gateway keeps the ledger:
every call is recorded in the ``external_calls`` table under its idempotency key (so a
redelivered call acts once), and an undo operation marks the call it names ``undone`` (or
``cancelled`` when its work was still running) once ``perform`` did the external part of
it (the sandbox has none; a real client cancels in its system), see
:mod:`sagacrew.runtime.externals._undo`. Sandbox work completes later by an event
delivered to the saga, never by polling; pending completions survive a restart: the
gateway re-arms them from the ledger when it starts.

An undo names the call it reverses by that call's idempotency key (payload ``undoes``,
the saga step's ``forward_key``), so it is safe whatever happened to the call: undone
once however often it is sent, and when the call never arrived a tombstone is left under
its key, so that the call, should it arrive late, is answered ``cancelled`` and does
nothing. (Undo payloads without ``undoes`` find the call by ``resource_id``.)

An external system says no (card declined, quota exceeded) when ``perform``, or anything
it calls, raises :class:`GatewayRefusal`: the call is answered with a business refusal
(the saga step fails for good, not retried, and the saga compensates its done steps), the
gateway actor is not restarted, and the ledger records the call ``refused``, so that the
call, redelivered, gets the same refusal without ``perform`` being called again, and an
undo of it does nothing. Any other exception from ``perform`` is a transient failure,
retried by the step's retry policy.

Fault injection (:class:`LateCompletions`): work completes in the ledger, but its
completion event is delivered late, after the saga stopped waiting for it.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from sagacrew.runtime.actors import Actor, ReplyLater
from sagacrew.runtime.aggregate import Rejection
from sagacrew.runtime.externals._late import LateCompletions
from sagacrew.runtime.externals._ledger import record_call, update_call
from sagacrew.runtime.externals._undo import (
    UNDOABLE,
    UNKNOWN,
    new_status,
    settle,
    tombstone,
    undo_target,
    with_resource,
)
from sagacrew.runtime.externals._undo import GatewayError as GatewayError
from sagacrew.runtime.externals.inbound import InboundEvent, complete_call, hand_over
from sagacrew.runtime.messages import Envelope
from sagacrew.runtime.store import CorruptRecord, ExternalCall, Store, StoreUnavailable

Deliver = Callable[[str, str, Mapping[str, Any]], Awaitable[bool]]
"""``deliver(event_name, correlation_id, payload)``: hands a completion event to the sagas."""

NOTHING_TO_UNDO = "nothing_to_undo"
"""The status an undo answers when the call it names never reached the system, or was
refused (it did nothing)."""

REFUSED = "refused"
"""The ledger status of a call the external system refused (see :class:`GatewayRefusal`)."""


@dataclass(frozen=True)
class GatewayOperation:
    """One operation of an external system.

    ``undoes`` names the operation this one reverses: its payload names the call to undo
    by idempotency key (``undoes``; or, without it, by ``resource_id``).
    ``completion_event`` makes the work finish later, announced by that event.
    """

    undoes: str | None = None
    completion_event: str | None = None
    params: tuple[str, ...] = ()


class GatewayRefusal(Exception):
    """The external system says no: a business refusal, e.g. ``GatewayRefusal("card
    declined")``. Raise it from :meth:`SandboxGateway.perform` (or anything it calls).

    The call is answered with a :class:`~sagacrew.runtime.aggregate.Rejection` (the saga
    step fails for good, without retrying: before the pivot the saga compensates its done
    steps, after it the saga stalls), not by crashing the gateway actor, so its
    supervisor does not restart it. The ledger records the call ``refused`` with
    ``reason``: the same call redelivered (same idempotency key) gets the same refusal
    without ``perform`` being called again, and an undo of it does nothing. A refused
    undo is answered the same way (its compensation is dead-lettered for an operator)
    but not recorded: a redrive of that compensation asks the system again.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SandboxGateway(Actor):
    """Gateway actor to one external system, backed by the sandbox ledger.

    ``late_completions`` (default none) delays some completion events on purpose (see
    :class:`LateCompletions`); a stopped gateway drops the late events it still holds.
    """

    system: ClassVar[str]
    operations: ClassVar[Mapping[str, GatewayOperation]]
    completion_delay_s: ClassVar[float] = 0.01

    def __init__(
        self, store: Store, deliver: Deliver, *, late_completions: LateCompletions | None = None
    ) -> None:
        self._store = store
        self._deliver = deliver
        self._late = late_completions
        self._pending: dict[str, asyncio.TimerHandle] = {}
        self._completing: set[asyncio.Task[None]] = set()
        self._late_events: set[asyncio.Task[None]] = set()
        self._calls: set[asyncio.Task[Any]] = set()
        self._busy: dict[str, asyncio.Task[Any]] = {}

    @property
    def simulates_completion(self) -> bool:
        """True when no real ``perform`` is plugged in: the sandbox then completes its own
        running work after ``completion_delay_s``. A subclass that overrides ``perform``
        talks to the real system, whose completion events alone complete its calls
        (``POST /api/events``, :meth:`SagaSystem.deliver_event`)."""
        return type(self).perform is SandboxGateway.perform

    async def pre_start(self) -> None:
        if not self.simulates_completion:
            return
        for call in self._store.list_external_calls(system=self.system, status="running"):
            self._arm(call.idempotency_key)

    async def post_stop(self) -> None:
        for handle in self._pending.values():
            handle.cancel()
        self._pending.clear()
        for task in (*self._late_events, *self._calls):
            task.cancel()

    async def receive(self, message: Any) -> Any:
        """Handle one call. A store that cannot be reached, or a corrupt ledger row, is
        answered with a :class:`Rejection` (``unavailable``: the saga pauses; ``corrupt``:
        the step fails, not retried) instead of crashing the actor: neither is fixed by a
        restart, and restarts would count against its supervisor. So is a refusal of the
        external system (:class:`GatewayRefusal`: a business refusal, not retried)."""
        if not isinstance(message, Envelope):
            raise TypeError(f"{self.system} takes Envelope calls, got {type(message).__name__}")
        # A real system is slow and far, and each call waits for its ledger write to
        # commit: calls run side by side (their ledger writes share commits), each answered
        # when it ends (one at a time per call, see ``_one_at_a_time``); a transport error
        # is the asker's (the step retries), not a failure of this actor.
        task = asyncio.get_running_loop().create_task(self._one_at_a_time(message))
        self._calls.add(task)
        task.add_done_callback(self._calls.discard)
        return ReplyLater(task)

    async def _answer(self, message: Envelope) -> Any:
        try:
            return await self._call(message)
        except StoreUnavailable as exc:
            return Rejection(message.name, str(exc), unavailable=exc)
        except CorruptRecord as exc:
            return Rejection(message.name, f"{self.system}: {exc}", corrupt=True)

    async def _one_at_a_time(self, message: Envelope) -> Any:
        """Answer ``message`` once no other message about the same call is being answered
        (a redelivery, a retry, or its undo: the undo names it in ``undoes``), so that the
        ledger of each call changes by one message at a time."""
        call = str(message.payload.get("undoes") or message.idempotency_key or message.message_id)
        while (busy := self._busy.get(call)) is not None:
            await asyncio.wait([busy])
        mine = asyncio.current_task()
        assert mine is not None
        self._busy[call] = mine
        try:
            return await self._answer(message)
        finally:
            if self._busy.get(call) is mine:
                del self._busy[call]

    async def _call(self, message: Envelope) -> Any:
        key = message.idempotency_key or message.message_id
        done = self._store.get_external_call(key)
        if done is not None and done.status != UNKNOWN:
            # A redelivered call acts once; if its work already completed, say so again:
            # the caller may have missed the completion event (e.g. its reply was lost).
            # A call undone before it arrived finds its tombstone: cancelled, no effect.
            # A refused call is refused again.
            if done.status == REFUSED:
                return self._rejection(message.name, done.response)
            if done.status == "completed":
                self._arm(key, redeliver=True)
            return dict(done.response)
        operation = self.operations.get(message.name)
        if operation is None:
            raise GatewayError(f"{self.system} has no operation {message.name!r}")
        if operation.undoes is not None:
            undone = await self._undo(key, operation, message)
            if isinstance(undone, Rejection):
                return undone
            response = undone
        else:
            if done is None and not self.simulates_completion:
                # Write ahead: from here the call may reach the system and its reply be
                # lost (a transport timeout, a crash), so its outcome is unknown until
                # ``perform`` answers; an undo then asks the system (see ``perform``).
                unknown = {"resource_id": "", "status": UNKNOWN}
                if not await self._write(key, message, UNKNOWN, unknown):
                    # Recorded meanwhile by another worker (its undo's tombstone, say):
                    # answered as the ledger now says.
                    return await self._call(message)
            try:
                response = await self.perform(message.name, operation, message)
            except GatewayRefusal as refusal:
                return await self._refused(key, operation, message, refusal.reason)
        status = str(response.get("status", "done"))
        settled = await self._record(key, message, status, response)
        if settled is not None:
            return dict(settled.response)  # undone meanwhile (another worker's undo)
        if status == "running" and self.simulates_completion:
            self._arm(key)
        return response

    async def perform(
        self, name: str, operation: GatewayOperation, message: Envelope
    ) -> dict[str, Any]:
        """Carry out the call in the external system; return at least ``resource_id`` and
        ``status``, or raise :class:`GatewayRefusal` when the system says no (a business
        refusal; any other exception is a transient failure, retried by the saga step).

        A real client overrides this; it does the external work only. The gateway keeps
        the ledger itself: it records the call, and for an undo (``operation.undoes``) it
        first finds the call undone (by the key in ``payload["undoes"]``, or by
        ``payload["resource_id"]``), calls ``perform`` only when that call is running,
        done or completed (with the call's ``resource_id`` in the payload, when the
        payload lacks one), and then records it ``cancelled`` (it was running) or
        ``undone``. An undo of a call that never arrived leaves a ``cancelled`` tombstone
        under its key and answers ``nothing_to_undo``; an undo of a call already
        cancelled, undone or refused answers without calling ``perform``.

        Outcome unknown: before a real ``perform`` runs a forward call, the gateway records
        the call ``unknown`` (the request may reach the system and its reply be lost: a
        read timeout, a crash). A retry of it calls ``perform`` again with the same
        idempotency key (the system must answer the same work). An undo of a call still
        ``unknown`` calls ``perform`` with an empty ``resource_id``: cancel the work by
        the forward call's idempotency key, ``payload["undoes"]`` (answering the
        ``resource_id`` the system had for it, if any); the call is then ``cancelled``.

        The sandbox has no external work: it answers a made-up resource (``running`` when
        the operation completes by event), and for an undo the new status of its call.
        """
        if operation.undoes is None:
            digest = hashlib.sha256(message.correlation_id.encode() + name.encode()).hexdigest()
            status = "running" if operation.completion_event else "done"
            return {"resource_id": f"{self.system}-{digest[:12]}", "status": status}
        target = undo_target(self._store, self.system, operation.undoes, message)
        if target is None:
            return {"resource_id": "none", "status": NOTHING_TO_UNDO}
        status = new_status(target.status) if target.status in UNDOABLE else target.status
        return {"resource_id": target.resource_id, "status": status}

    async def _undo(
        self, key: str, operation: GatewayOperation, message: Envelope
    ) -> dict[str, Any] | Rejection:
        """The undo ``message``: find the call it names, have ``perform`` do the external
        work, record the call's new status (see :meth:`perform`); its answer."""
        undone = str(operation.undoes)
        target = undo_target(self._store, self.system, undone, message)
        if target is None:
            forward_key = str(message.payload["undoes"])
            answer = await tombstone(self._store, self.system, forward_key, undone, message)
            if answer is None:  # the call was recorded meanwhile: undo it after all
                return await self._undo(key, operation, message)
            return answer
        if target.status == REFUSED:
            resource_id = str(message.payload.get("resource_id") or "none")
            return {"resource_id": resource_id, "status": NOTHING_TO_UNDO}
        if target.status not in UNDOABLE:
            return {"resource_id": target.resource_id, "status": target.status}
        try:
            response = await self.perform(message.name, operation, with_resource(message, target))
        except GatewayRefusal as refusal:
            return await self._refused(key, operation, message, refusal.reason)
        answer = await settle(self._store, target, dict(response))
        handle = self._pending.pop(target.idempotency_key, None)
        if handle is not None:
            handle.cancel()  # the sandbox's own completion of it, if armed
        return answer

    async def _refused(
        self, key: str, operation: GatewayOperation, message: Envelope, reason: str
    ) -> Rejection:
        """Record call ``key`` ``refused`` (not an undo: see :class:`GatewayRefusal`);
        answer it with the refusal."""
        response = {"resource_id": "none", "status": REFUSED, "reason": reason}
        if operation.undoes is None:
            await self._record(key, message, REFUSED, response)
        return self._rejection(message.name, response)

    async def _record(
        self, key: str, message: Envelope, status: str, response: Mapping[str, Any]
    ) -> ExternalCall | None:
        """Write call ``key`` (``message``) to the ledger with ``status`` and ``response``
        (over its ``unknown`` row, when the call was recorded before ``perform``). When
        another worker settled the call meanwhile (its undo's tombstone, or a cancel of
        the unknown call), the ledger keeps that: it is returned, and nothing written."""
        if await self._write(key, message, status, response):
            return None
        now = await update_call(
            self._store,
            key,
            status=status,
            updated_at=time.time(),
            response=response,
            resource_id=str(response["resource_id"]),
            from_status=UNKNOWN,
        )
        return None if now.status == status else now

    async def _write(
        self, key: str, message: Envelope, status: str, response: Mapping[str, Any]
    ) -> bool:
        """Insert call ``key``'s ledger row; ``False`` (nothing written) if it has one."""
        now = time.time()
        return await record_call(
            self._store,
            ExternalCall(
                idempotency_key=key,
                system=self.system,
                operation=message.name,
                resource_id=str(response["resource_id"]),
                status=status,
                request=dict(message.payload),
                response=dict(response),
                correlation_id=message.correlation_id,
                causation_id=message.message_id,
                created_at=now,
                updated_at=now,
            ),
        )

    def _rejection(self, name: str, response: Mapping[str, Any]) -> Rejection:
        """The business refusal of call ``name`` (``response``: its ledger answer)."""
        reason = str(response.get("reason") or "refused")
        return Rejection(name, f"{self.system} refused {name}: {reason}")

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
        event = operation.completion_event
        assert event is not None
        completion = InboundEvent(event, f"sandbox:{key}", {"status": "completed", "result": {}})
        if redeliver:
            await hand_over(call, completion, self._deliver)
        elif self._late is not None and self._late.applies_to(key):
            # Fault injection: the work is done, its event is on its way, late.
            await update_call(self._store, key, status="completed", updated_at=time.time())
            task = self._late.schedule(lambda: hand_over(call, completion, self._deliver))
            self._late_events.add(task)
            task.add_done_callback(self._late_events.discard)
        else:
            # The sandbox completes its work as a real system would: one completion event.
            await complete_call(self._store, call, completion, self._deliver)
