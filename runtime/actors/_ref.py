"""``ActorRef``: the handle used to send messages to an actor (``tell`` and ``ask``)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Generic

from typing_extensions import TypeVar

from ._errors import AskTimeout, DeadLetterError

if TYPE_CHECKING:
    from ._cell import Cell
    from ._system import ActorSystem


class Ask:
    """A mailbox entry for ``ask``: the message and the future that receives the reply."""

    __slots__ = ("message", "reply")

    def __init__(self, message: Any, reply: asyncio.Future[Any]) -> None:
        self.message = message
        self.reply = reply


def _expire(reply: asyncio.Future[Any], path: str, message: Any, timeout_s: float) -> None:
    if not reply.done():
        reply.set_exception(AskTimeout(path, message, timeout_s))


Message = TypeVar("Message", default=Any)
"""What an actor accepts: ``ActorRef[Envelope]`` only takes envelopes (default: anything)."""


class ActorRef(Generic[Message]):
    """A reference to the actor at ``path``; stable across restarts.

    Typed by the messages it takes (``ActorRef[Envelope]``), so a type checker refuses a
    ``tell``/``ask`` of anything else; a bare ``ActorRef`` takes anything.

    Like an OTP registered name, a reference whose actor stopped for good resolves the path
    again on use, so after a parent supervisor restarts a subtree the same reference reaches the
    new actor. Messages to a path with no live actor go to dead letters. Refs compare equal when
    they name the same path in the same system. Not thread-safe: use from the system's loop.
    """

    __slots__ = ("_cell", "_system", "path")

    def __init__(self, system: ActorSystem, path: str, cell: Cell) -> None:
        self._system = system
        self._cell = cell
        self.path = path

    def _live_cell(self) -> Cell | None:
        cell = self._cell
        if cell.dead:
            found = self._system._cells.get(self.path)
            if found is None:
                return None
            self._cell = cell = found
        return cell

    def tell(self, message: Message) -> None:
        """Send ``message`` without waiting (fire and forget).

        Delivered to the mailbox even while the actor restarts; to a stopped actor the message
        goes to dead letters.
        """
        cell = self._cell
        if cell.dead:
            found = self._live_cell()
            if found is None:
                self._system.dead_letters.publish(self.path, message, "stopped")
                return
            cell = found
        cell.mailbox.append(message)
        waiter = cell.waiter
        if waiter is not None:
            cell.waiter = None
            if not waiter.done():
                waiter.set_result(None)

    async def ask(self, message: Message, *, timeout_s: float = 5.0) -> Any:
        """Send ``message`` and return the reply, i.e. what ``receive`` returned.

        If ``receive`` raises, that exception is raised here too (and the failure still goes to
        the supervisor). Raises ``AskTimeout`` after ``timeout_s`` seconds on the event loop's
        clock (default 5.0), and ``DeadLetterError`` if the actor is stopped or stops before
        handling the message. An actor must not ask itself (it would wait for its own reply).
        """
        cell = self._cell
        if cell.dead:
            found = self._live_cell()
            if found is None:
                self._system.dead_letters.publish(self.path, message, "stopped")
                raise DeadLetterError(self.path, message, "the actor is stopped")
            cell = found
        loop = asyncio.get_running_loop()
        reply: asyncio.Future[Any] = loop.create_future()
        cell.mailbox.append(Ask(message, reply))
        waiter = cell.waiter
        if waiter is not None:
            cell.waiter = None
            if not waiter.done():
                waiter.set_result(None)
        handle = loop.call_later(timeout_s, _expire, reply, self.path, message, timeout_s)
        try:
            return await reply
        finally:
            handle.cancel()

    def is_alive(self) -> bool:
        """True while an actor lives at this path (also while it is being restarted)."""
        return self._live_cell() is not None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ActorRef):
            return NotImplemented
        return self.path == other.path and self._system is other._system

    def __hash__(self) -> int:
        return hash(self.path)

    def __repr__(self) -> str:
        return f"ActorRef({self.path!r})"
