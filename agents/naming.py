"""Names the agents derive from the spec: actor addresses, class names, event names."""

from __future__ import annotations

from sagacrew.crew.spec.model import Command, CommandKind

DEFAULT_EVENT_VERB: dict[CommandKind, str] = {
    CommandKind.CREATE: "created",
    CommandKind.UPDATE: "updated",
    CommandKind.DELETE: "deleted",
    CommandKind.RESERVE: "reserved",
    CommandKind.RELEASE: "released",
}
"""Past-tense verb of the event a command emits when the spec names none."""

COMPENSATION_EVENT_VERB: dict[CommandKind, str] = {
    CommandKind.CREATE: "deleted",
    CommandKind.UPDATE: "restored",
    CommandKind.DELETE: "recreated",
}
"""Verb of the event the runtime's built-in compensation emits for a command kind."""


def actor_address(context: str, aggregate: str) -> str:
    """``context.aggregate``: where an aggregate's actor is found."""
    return f"{context}.{aggregate}"


def pascal(name: str) -> str:
    """``kitchen_ticket`` → ``KitchenTicket`` (Unicode letters kept)."""
    return "".join(part[:1].upper() + part[1:] for part in name.split("_") if part)


def event_name(context: str, aggregate: str, command: Command) -> str | None:
    """``context.aggregate.past_tense_verb`` of the event a command emits; None for queries."""
    verb = command.event or DEFAULT_EVENT_VERB.get(command.kind)
    return None if verb is None else f"{context}.{aggregate}.{verb}"


def event_class_name(event: str) -> str:
    """``kitchen.ticket.created`` → ``TicketCreated``."""
    _, aggregate, verb = event.split(".")
    return pascal(aggregate) + pascal(verb)
