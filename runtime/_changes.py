"""How a command's event describes its change, and how state moves by it: the event's
metadata, a ``delta`` (commutative update) resolved from the command's parameters and
applied to a state, and the empty value of each field type."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sagacrew.runtime._undo import UNDOES
from sagacrew.runtime.messages import Envelope

if TYPE_CHECKING:
    from sagacrew.runtime.aggregate import CommandHandler

_EMPTY: dict[str, Any] = {"str": "", "int": 0, "float": 0.0, "bool": False}


def event_metadata(message: Envelope) -> dict[str, Any]:
    """What an event records of its command: the command's name, its idempotency key,
    and for an undo the key of the command it undoes."""
    metadata: dict[str, Any] = {"command": message.name}
    if message.idempotency_key is not None:
        metadata["idempotency_key"] = message.idempotency_key
    if UNDOES in message.payload:
        metadata[UNDOES] = str(message.payload[UNDOES])
    return metadata


def delta_of(handler: CommandHandler, params: Mapping[str, Any]) -> dict[str, Any] | str:
    """The signed change of each field ``handler.delta`` moves, or why it cannot be had."""
    delta: dict[str, Any] = {}
    for name, change in handler.delta.items():
        if isinstance(change, str):
            sign = -1 if change.startswith("-") else 1
            value = params.get(change.lstrip("+-"))
            if isinstance(value, bool) or not isinstance(value, int | float):
                return f"{change.lstrip('+-')} must be a number, got {value!r}"
            delta[name] = sign * value
        else:
            delta[name] = change
    return delta


def moved(state: dict[str, Any], delta: Mapping[str, Any]) -> dict[str, Any]:
    """``state`` with each field of ``delta`` moved by its signed change."""
    for name, change in delta.items():
        state[name] = state.get(name, 0) + change
    return state


def empty_value(kind: str) -> Any:
    if kind == "list":
        return []
    if kind == "dict":
        return {}
    return _EMPTY.get(kind, "")
