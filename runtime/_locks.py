"""Semantic locks on aggregate instances (Richardson, *Microservices Patterns* ch. 4).

A saga step that ``acquire``s (``StepContext.lock``; the command carries ``_lock``) puts
the instance it writes in a pending state held by the saga: the event records the
holder (payload ``lock``: the saga's correlation id) and the state keeps it under
:data:`LOCK_HOLDER`, so the lock survives restarts and replays like any other state. A
``release`` step, or the undo of the acquiring step, records ``lock: ""``.

While an instance is held, a command of another saga (queries too: a dirty read is the
anomaly this prevents) is refused, or, when the aggregate says ``when_locked = "wait"``,
answered with a refusal that carries an event set when the lock is released: the
caller (``SagaSystem.dispatch``) waits on it, at most ``lock_timeout_s``, then sends the
command again. Undo commands pass: a compensation must always be able to run (its own
checks refuse to overwrite what the holder changed).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

LOCK_HOLDER = "_locked_by"
"""State key of the correlation id of the saga holding the instance ("" or absent: free)."""

LOCK_DIRECTIVE = "_lock"
"""Command payload key by which a saga step asks to ``acquire`` or ``release`` the lock."""

LOCK = "lock"
"""Event payload key: the new holder (``""`` releases)."""


def holder(state: Mapping[str, Any]) -> str:
    """The correlation id of the saga holding the instance, or ``""``."""
    return str(state.get(LOCK_HOLDER) or "")


def with_lock(state: dict[str, Any], payload: Mapping[str, Any]) -> dict[str, Any]:
    """``state`` after an event whose payload may acquire or release the lock."""
    if LOCK in payload:
        state[LOCK_HOLDER] = str(payload[LOCK] or "")
    return state


class LockWaits:
    """The release events callers wait on, one per held instance (by aggregate id)."""

    def __init__(self) -> None:
        self._events: dict[str, asyncio.Event] = {}

    def event(self, aggregate_id: str) -> asyncio.Event:
        """The event set when ``aggregate_id``'s lock is released."""
        return self._events.setdefault(aggregate_id, asyncio.Event())

    def released(self, aggregate_id: str) -> None:
        """Wake every caller waiting on ``aggregate_id``."""
        event = self._events.pop(aggregate_id, None)
        if event is not None:
            event.set()
