"""The ledger side of an undo, kept by the gateway whatever ``perform`` does.

An undo operation has two parts: the external effect (the sandbox has none; a real client
cancels or deletes in its system, from its ``perform``) and the bookkeeping in the
``external_calls`` ledger, which the gateway does itself so that a real ``perform`` need
not: :func:`undo_target` finds the call the undo names (by key, or by resource id),
:func:`tombstone` leaves a ``cancelled`` row under a key that never arrived, and
:func:`settle` records the target's new status once ``perform`` succeeded.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from sagacrew.runtime.externals._ledger import record_call, update_call
from sagacrew.runtime.messages import Envelope
from sagacrew.runtime.store import ExternalCall, Store

UNKNOWN = "unknown"
"""The ledger status of a call sent to a real system whose answer has not come back (yet):
it may have acted. Recorded before a real ``perform`` runs; see
:meth:`~sagacrew.runtime.externals.SandboxGateway.perform`."""

UNDOABLE = ("running", "done", "completed", UNKNOWN)
"""Ledger states an undo acts on; any other (cancelled, undone, refused) it leaves alone."""


class GatewayError(Exception):
    """A call the gateway cannot make (unknown operation, unknown resource; an undo naming
    a call of another operation, or a resource no call made)."""


def new_status(status: str) -> str:
    """The status of a call once undone: running work, or work whose outcome was unknown,
    is ``cancelled`` (it will not complete), done or completed work ``undone``."""
    return "cancelled" if status in ("running", UNKNOWN) else "undone"


def undo_target(store: Store, system: str, undone: str, message: Envelope) -> ExternalCall | None:
    """The ``undone`` call that ``message`` (an undo) names: by the key in
    ``payload["undoes"]`` (``None`` when no call has it: it never arrived) or, without a
    key, by ``payload["resource_id"]``."""
    undoes = message.payload.get("undoes")
    if undoes is None:
        resource_id = str(message.payload.get("resource_id"))
        key = store.external_call_key(system, undone, resource_id)
        made = store.get_external_call(key) if key is not None else None
        if made is None:
            raise GatewayError(
                f"{system}.{message.name}: no {undone} call made resource {resource_id}"
            )
        return made
    target = store.get_external_call(str(undoes))
    if target is not None and (target.system != system or target.operation != undone):
        raise GatewayError(
            f"{system}.{message.name} undoes {undone}, but call {undoes!r} is "
            f"{target.system}.{target.operation}; name the key of a {undone} call"
        )
    return target


def with_resource(message: Envelope, target: ExternalCall) -> Envelope:
    """``message`` with the target's ``resource_id`` in its payload when it lacks one (a
    compensation of a step whose reply was lost sends ``""``): what ``perform`` needs to
    reach the work in the external system."""
    if message.payload.get("resource_id"):
        return message
    payload = {**message.payload, "resource_id": target.resource_id}
    return Envelope(
        message.name,
        payload,
        message.correlation_id,
        message.causation_id,
        message.message_id,
        message.idempotency_key,
    )


async def settle(store: Store, target: ExternalCall, response: dict[str, Any]) -> dict[str, Any]:
    """Record ``target`` undone after ``perform`` answered ``response``; return the undo's
    answer: ``resource_id`` and the target's new ``status`` (the system's own status word,
    when ``perform`` answered another, is kept as ``reported_status``).

    The target is read again first: work that completed while ``perform`` ran is
    ``undone``, and work that a concurrent undo settled is left as it is."""
    current = store.get_external_call(target.idempotency_key) or target
    status = new_status(current.status) if current.status in UNDOABLE else current.status
    if current.status == UNKNOWN:
        # The system named the work it cancelled (or none): keep it, so that a late
        # completion of that work finds the call by its resource id.
        resource_id = str(response.get("resource_id") or "none")
        await update_call(
            store,
            target.idempotency_key,
            status=status,
            updated_at=time.time(),
            response={"resource_id": resource_id, "status": status},
            resource_id=resource_id,
        )
        target = replace(target, resource_id=resource_id)
    elif current.status in UNDOABLE:
        await update_call(store, target.idempotency_key, status=status, updated_at=time.time())
    answer = {"resource_id": target.resource_id, **response, "status": status}
    reported = response.get("status")
    if reported is not None and reported != status:
        answer["reported_status"] = reported
    return answer


async def tombstone(
    store: Store, system: str, key: str, undone: str, message: Envelope
) -> dict[str, Any] | None:
    """Record call ``key`` (of operation ``undone``) ``cancelled`` before it arrives, so
    that it does nothing when it does; answer the undo ``nothing_to_undo``. ``None`` (and
    nothing written) when the call was recorded meanwhile (by another worker): the undo
    has a call to undo after all."""
    now = time.time()
    recorded = await record_call(
        store,
        ExternalCall(
            idempotency_key=key,
            system=system,
            operation=undone,
            resource_id="none",
            status="cancelled",
            request={"tombstone": True, "undone_by": message.idempotency_key},
            response={"resource_id": "none", "status": "cancelled"},
            correlation_id=message.correlation_id,
            causation_id=message.message_id,
            created_at=now,
            updated_at=now,
        ),
    )
    if not recorded:
        return None
    resource_id = str(message.payload.get("resource_id") or "none")
    return {"resource_id": resource_id, "status": "nothing_to_undo"}
