"""The ``Actor`` base class users subclass, and the ``ActorContext`` the system gives it."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._cell import Cell
    from ._ref import ActorRef
    from ._system import ActorSystem


@dataclass(frozen=True, eq=False, slots=True)
class ActorContext:
    """An actor's view of itself and its system; set as ``actor.context`` before ``pre_start``.

    One context per actor path: it survives restarts (every incarnation gets the same one).
    """

    self_ref: ActorRef
    """This actor's own reference (stable across restarts)."""
    system: ActorSystem
    """The system this actor runs in."""
    path: str
    """The actor's path, e.g. ``"root/ordering/ordering.order"``."""
    name: str
    """The last segment of ``path``."""
    _cell: Cell = field(repr=False)

    @property
    def children(self) -> list[ActorRef]:
        """References to the live children spawned with ``spawn``, in start order."""
        return self._cell.live_children()

    async def spawn(
        self, factory: Callable[[], Actor], name: str, *, shutdown_s: float = 5.0
    ) -> ActorRef:
        """Start a child actor at ``<path>/<name>`` and return once its ``pre_start`` has run.

        Like Akka Typed's default, the child is stopped (not restarted) when it fails or stops
        itself; it is stopped before this actor's ``post_stop`` / ``pre_restart``. Raises
        ``InvalidActorName`` if the name is taken and ``ActorInitializationError`` if the child
        fails to start.
        """
        return await self._cell.spawn_child(factory, name, shutdown_s=shutdown_s)

    spawn_child = spawn

    def stop(self) -> None:
        """Stop this actor after the current message: a normal exit.

        ``post_stop`` runs. A ``permanent`` child is then restarted by its supervisor (its
        mailbox kept); any other actor stops for good and its remaining messages go to dead
        letters.
        """
        self._cell.request_self_stop()

    async def stop_child(self, child: ActorRef) -> None:
        """Stop a child spawned with ``spawn`` and wait until it has stopped."""
        await self._cell.stop_child(child)


class Actor(ABC):
    """An asyncio actor: messages are handled one at a time by ``receive``.

    Override ``receive``; its return value is the reply to ``ask``, and raising reports a failure
    to the supervisor (and to the asker). Lifecycle: ``pre_start`` before the first message;
    ``post_stop`` after the last; on restart, ``pre_restart(error)`` on the old instance (default:
    calls ``post_stop``), then a fresh instance from the factory gets ``pre_start``. Hooks run
    in the actor's own order with its messages, never concurrently with ``receive``.
    """

    context: ActorContext

    async def pre_start(self) -> None:
        """Called once per instance before its first message. Raising fails the start."""
        return None

    async def post_stop(self) -> None:
        """Called once when the instance stops; the default ``pre_restart`` calls it too."""
        return None

    async def pre_restart(self, error: BaseException) -> None:
        """Called on the old instance before it is replaced; the default calls ``post_stop``."""
        await self.post_stop()

    @abstractmethod
    async def receive(self, message: Any) -> Any:
        """Handle one message; the result is the reply to ``ask`` (ignored for ``tell``)."""
