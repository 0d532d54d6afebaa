"""Names the agents derive from the spec: actor addresses, class names, event names, and
the runtime's built-in compensations."""

from __future__ import annotations

from typing import Literal

from sagacrew.agents.spec.model import CommandKind

BUILTIN_COMPENSATIONS: dict[
    CommandKind, tuple[Literal["delete", "restore", "recreate"], str, str]
] = {
    CommandKind.CREATE: ("delete", "_delete", "deleted"),
    CommandKind.UPDATE: ("restore", "_restore", "restored"),
    CommandKind.DELETE: ("recreate", "_recreate", "recreated"),
}
"""Per command kind, the runtime's built-in compensation: (kind, command, event verb).
``sagacrew.runtime.AggregateActor`` implements these three commands."""

COMPENSATION_EVENT_VERB: dict[CommandKind, str] = {
    kind: verb for kind, (_, _, verb) in BUILTIN_COMPENSATIONS.items()
}
"""Verb of the event the runtime's built-in compensation emits for a command kind."""

BUILTIN_COMPENSATION_VERB: dict[str, str] = {
    command: verb for _, command, verb in BUILTIN_COMPENSATIONS.values()
}
"""Built-in compensation command → the verb of the event it emits."""


def actor_address(context: str, aggregate: str) -> str:
    """``context.aggregate``: where an aggregate's actor is found."""
    return f"{context}.{aggregate}"


def pascal(name: str) -> str:
    """``kitchen_ticket`` → ``KitchenTicket`` (Unicode letters kept)."""
    return "".join(part[:1].upper() + part[1:] for part in name.split("_") if part)


def event_class_name(event: str) -> str:
    """``kitchen.ticket.created`` → ``TicketCreated``."""
    _, aggregate, verb = event.split(".")
    return pascal(aggregate) + pascal(verb)
