"""What each saga step and each compensation sends: payload entries, as blueprint data.

Part of the Saga Orchestrator's work, from the Actor Architect's actors:

- a step on an aggregate sends the aggregate's identity, the command's parameters and,
  for a ``reserve``/``release``, the ``amount`` (each once, in that order), all read
  from the saga's inputs; a step on a gateway sends the operation's parameters;
- an ``undo`` compensation (an external operation) sends the key it undoes, the
  ``resource_id`` the forward call returned, and the undo operation's other parameters;
- any other compensation undoes by key: the identity, the key it undoes, and the
  parameters of the command when the spec declares one (a built-in ``_delete``,
  ``_restore`` or ``_recreate`` takes none: the actor reverses what the forward command
  did from its own event, and does nothing when it never acted).

The emitter renders each entry as a Python expression; it decides nothing.
"""

from __future__ import annotations

from collections.abc import Mapping

from sagacrew.agents.blueprint import ActorSpec, Compensation, Handler, PayloadEntry

FORWARD_KEY = PayloadEntry(key="undoes", source="forward_key")
"""The idempotency key of the forward step a compensation undoes."""
RESOURCE_ID = "resource_id"


def _input(name: str) -> PayloadEntry:
    return PayloadEntry(key=name, source="input", field=name)


def _handler(actor: ActorSpec, command: str) -> Handler:
    return next(h for h in actor.handlers if h.command == command)


def step_payload(actor: ActorSpec, command: str) -> list[PayloadEntry]:
    """What a step sending ``command`` to ``actor`` puts in its payload."""
    handler = _handler(actor, command)
    if actor.kind == "gateway":
        return [_input(p) for p in handler.params]
    assert actor.identity is not None, f"aggregate {actor.name} has no identity"
    keys = [actor.identity, *handler.params]
    if handler.quantity_field:
        keys.append("amount")
    return [_input(k) for k in dict.fromkeys(keys)]


def compensation_payload(
    compensation: Compensation, actors: Mapping[str, ActorSpec]
) -> list[PayloadEntry]:
    """What ``compensation`` puts in its payload."""
    actor = actors[compensation.target]
    if compensation.kind == "undo":
        undo = _handler(actor, compensation.command)
        return [
            FORWARD_KEY,
            PayloadEntry(key=RESOURCE_ID, source="step_result", field=RESOURCE_ID),
            *(_input(p) for p in undo.params if p != RESOURCE_ID),
        ]
    assert actor.identity is not None, f"aggregate {actor.name} has no identity"
    entries = [_input(actor.identity), FORWARD_KEY]
    if not compensation.command.startswith("_"):  # a command the spec declares
        entries += [_input(p) for p in _handler(actor, compensation.command).params]
    return entries


def with_payload(compensation: Compensation, actors: Mapping[str, ActorSpec]) -> Compensation:
    """``compensation`` with its payload recorded."""
    return compensation.model_copy(update={"payload": compensation_payload(compensation, actors)})
