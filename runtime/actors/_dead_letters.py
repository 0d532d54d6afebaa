"""Dead letters: messages that could not be delivered or handled, counted and observable."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from typing import Any, NamedTuple

logger = logging.getLogger("sagacrew.runtime.actors")


class DeadLetter(NamedTuple):
    """One undelivered message: the target ``path``, the ``message`` and the ``reason``.

    Reasons: ``"stopped"`` (sent to, or left in the mailbox of, a stopped actor),
    ``"cancelled"`` (its handling was cancelled after ``shutdown_s``), ``"unhandled"`` (a
    supervisor received a message it does not understand).
    """

    path: str
    message: Any
    reason: str


DeadLetterCallback = Callable[[DeadLetter], None]


class DeadLetters:
    """The system's dead-letter office.

    ``count`` is the total number ever published; ``items`` keeps the most recent ``capacity``
    (default 1000) as ``DeadLetter`` tuples; ``subscribe`` registers a callback called
    synchronously for each one (exceptions from callbacks are logged and ignored, so one bad
    subscriber cannot stop delivery to the others).
    """

    def __init__(self, capacity: int = 1000) -> None:
        self.count = 0
        self.items: deque[DeadLetter] = deque(maxlen=capacity)
        self._subscribers: list[DeadLetterCallback] = []

    def publish(self, path: str, message: Any, reason: str) -> None:
        """Record one dead letter and notify the subscribers."""
        letter = DeadLetter(path, message, reason)
        self.count += 1
        self.items.append(letter)
        for callback in tuple(self._subscribers):
            try:
                callback(letter)
            except Exception:
                logger.exception("dead-letter subscriber %r raised on %r", callback, letter)

    def subscribe(self, callback: DeadLetterCallback) -> Callable[[], None]:
        """Call ``callback`` for every future dead letter; returns a function that unsubscribes."""
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            if callback in self._subscribers:
                self._subscribers.remove(callback)

        return unsubscribe
