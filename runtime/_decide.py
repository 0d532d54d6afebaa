"""Deciding a command: from an aggregate instance's state and a command, the event to
append (or none) and the reply, or a :class:`~sagacrew.runtime.aggregate.Rejection`.

Pure: nothing is written here; :class:`~sagacrew.runtime.aggregate.AggregateActor`
appends the event, then applies it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sagacrew.runtime._changes import delta_of
from sagacrew.runtime._locks import LOCK, LOCK_DIRECTIVE
from sagacrew.runtime._undo import UNDOES, Decision, Proceed, Tombstone, decide_undo
from sagacrew.runtime.messages import Envelope

if TYPE_CHECKING:
    from sagacrew.runtime.aggregate import AggregateActor, Rejection, _Instance


def decide(
    actor: AggregateActor, message: Envelope, aggregate_id: str, instance: _Instance
) -> Rejection | Decision | Tombstone:
    """What ``message`` does to the instance: ``(event type or None, event payload,
    reply)``, a refusal (unknown command, missing parameter, rule, invariant), or the
    undo of a command that has not acted (a :class:`~sagacrew.runtime._undo.Tombstone`)."""
    from sagacrew.runtime.aggregate import Rejection

    name, payload = message.name, message.payload
    reply: dict[str, Any] = {actor.identity: aggregate_id}
    verb = actor.address + "."
    if UNDOES in payload:
        undo = decide_undo(actor, name, payload, aggregate_id, instance)
        if not isinstance(undo, Proceed):
            return undo
        payload = undo.payload
    if name == "_delete":
        if not instance.exists:
            return None, {}, reply  # already gone: undoing twice is harmless
        return verb + "deleted", {actor.identity: aggregate_id}, reply
    if name in ("_restore", "_recreate"):
        before = dict(payload.get("before", {}))
        event = verb + ("restored" if name == "_restore" else "recreated")
        return event, {actor.identity: aggregate_id, "before": before}, reply
    handler = actor.commands.get(name)
    if handler is None:
        return Rejection(name, f"{actor.address} has no command {name!r}")
    params = {p: payload[p] for p in handler.params if p in payload}
    missing = [p for p in handler.params if p not in payload]
    if missing:
        return Rejection(name, f"{name} needs {', '.join(missing)}")
    if handler.kind in ("reserve", "release"):
        params["amount"] = int(payload.get("amount", 1))
    if handler.kind == "create" and instance.exists:
        return Rejection(name, f"{actor.stream_id(aggregate_id)} already exists")
    if handler.kind == "delete" and not instance.exists:
        return Rejection(name, f"{actor.stream_id(aggregate_id)} does not exist")
    if handler.rejects_when is not None and handler.rejects_when(instance.state, params):
        return Rejection(name, f"{name} refused by its rule for {aggregate_id}")
    if handler.kind == "query":
        return None, {}, {**reply, "state": dict(instance.state)}
    event_payload: dict[str, Any] = {actor.identity: aggregate_id, **params, **handler.sets}
    directive = payload.get(LOCK_DIRECTIVE)
    if directive in ("acquire", "release"):
        event_payload[LOCK] = message.correlation_id if directive == "acquire" else ""
    if handler.delta:
        delta = delta_of(handler, params)
        if isinstance(delta, str):
            return Rejection(name, f"{name} on {aggregate_id}: {delta}")
        event_payload["delta"] = delta
    if handler.kind in ("update", "delete"):
        changed = (
            event_payload.keys() - {actor.identity, "delta"} - handler.delta_params
            if handler.kind == "update"
            else None
        )
        before = {k: v for k, v in instance.state.items() if changed is None or k in changed}
        event_payload["before"] = before
        reply["before"] = before
    if handler.kind in ("reserve", "release"):
        reply["amount"] = params["amount"]
    assert handler.event is not None
    new_state, _ = actor.evolve(instance.state, True, handler.event, event_payload)
    broken = actor.broken_invariants(new_state)
    if broken:
        return Rejection(name, f"{name} would break {', '.join(broken)} on {aggregate_id}")
    return handler.event, event_payload, reply
