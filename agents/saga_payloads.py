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


def _input(name: str, sources: Mapping[str, str] | None = None) -> PayloadEntry:
    """The entry for payload key ``name``: from the saga input of that name, unless the
    step's ``with`` says where it comes from (see :func:`entry_from`)."""
    source = (sources or {}).get(name)
    if source is None:
        return PayloadEntry(key=name, source="input", field=name)
    return entry_from(name, source)


def entry_from(key: str, source: str) -> PayloadEntry:
    """A spec source as a payload entry: ``rooms`` (a saga input), ``steps.X.f`` (field
    ``f`` of step ``X``'s result), ``item`` / ``item.f`` (a fan-out's item)."""
    if source.startswith("steps."):
        _, step, field = source.split(".")
        return PayloadEntry(key=key, source="step_field", field=field, step=step)
    if source == "item":
        return PayloadEntry(key=key, source="item")
    if source.startswith("item."):
        return PayloadEntry(key=key, source="item", field=source.removeprefix("item."))
    return PayloadEntry(key=key, source="input", field=source)


def _handler(actor: ActorSpec, command: str) -> Handler:
    return next(h for h in actor.handlers if h.command == command)


def step_payload(
    actor: ActorSpec, command: str, sources: Mapping[str, str] | None = None
) -> list[PayloadEntry]:
    """What a step sending ``command`` to ``actor`` puts in its payload (``sources``: the
    step's ``with``)."""
    handler = _handler(actor, command)
    if actor.kind == "gateway":
        return [_input(p, sources) for p in handler.params]
    assert actor.identity is not None, f"aggregate {actor.name} has no identity"
    keys = [actor.identity, *handler.params]
    if handler.quantity_field:
        keys.append("amount")
    return [_input(k, sources) for k in dict.fromkeys(keys)]


def compensation_payload(
    compensation: Compensation,
    actors: Mapping[str, ActorSpec],
    sources: Mapping[str, str] | None = None,
) -> list[PayloadEntry]:
    """What ``compensation`` puts in its payload; its identity and parameters come from
    where the forward step's came from (``sources``: the step's ``with``)."""
    actor = actors[compensation.target]
    if compensation.kind == "undo":
        undo = _handler(actor, compensation.command)
        return [
            FORWARD_KEY,
            PayloadEntry(key=RESOURCE_ID, source="step_result", field=RESOURCE_ID),
            *(_input(p, sources) for p in undo.params if p != RESOURCE_ID),
        ]
    assert actor.identity is not None, f"aggregate {actor.name} has no identity"
    entries = [_input(actor.identity, sources), FORWARD_KEY]
    if not compensation.command.startswith("_"):  # a command the spec declares
        entries += [_input(p, sources) for p in _handler(actor, compensation.command).params]
    return entries


def with_payload(
    compensation: Compensation,
    actors: Mapping[str, ActorSpec],
    sources: Mapping[str, str] | None = None,
) -> Compensation:
    """``compensation`` with its payload recorded."""
    payload = compensation_payload(compensation, actors, sources)
    return compensation.model_copy(update={"payload": payload})
