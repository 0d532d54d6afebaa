"""Who supervises a cell: the ``Parent`` protocol and ``StoppingParent`` for unsupervised actors.

A cell asks its parent for a directive when its instance fails and reports its own exits to it
(``Parent.child_exited``); supervisors implement the protocol with restart strategies, while
``StoppingParent`` (top-level actors and those spawned by an actor) just stops them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from ._errors import InvalidActorName

if TYPE_CHECKING:
    from ._cell import Cell
    from ._policy import Directive
    from ._system import ActorSystem


class Parent(Protocol):
    """What a cell needs from whoever supervises it."""

    def decide(self, error: Exception) -> Directive:
        """The directive for a failure of one of this parent's children."""
        ...

    def child_exited(
        self, cell: Cell, incarnation: int, error: Exception | None, directive: Directive | None
    ) -> None:
        """A child's instance ended by itself: failed with ``error``, or stopped normally."""
        ...


def check_actor_name(path: str, name: str) -> None:
    """Raise ``InvalidActorName`` unless ``name`` is a valid path segment."""
    if not name or "/" in name:
        raise InvalidActorName(path, "use a non-empty name without '/'")


class StoppingParent:
    """Parent of unsupervised actors (top level, or spawned by an actor).

    Akka Typed's default: a child that fails is stopped, never restarted; a child that stops
    itself is terminated. Top-level supervisors that fail mark the system failed.
    """

    def __init__(self, system: ActorSystem, children: dict[str, Cell]) -> None:
        self._system = system
        self._children = children

    def decide(self, error: Exception) -> Directive:
        """Always ``"stop"``."""
        return "stop"

    def child_exited(
        self, cell: Cell, incarnation: int, error: Exception | None, directive: Directive | None
    ) -> None:
        """Stop the exited child for good, in the background."""
        self._system._background(self._reap(cell, incarnation, error))

    def release(self, cell: Cell) -> None:
        """Forget ``cell`` (before stopping it) so it is not stopped twice."""
        if self._children.get(cell.name) is cell:
            del self._children[cell.name]

    async def _reap(self, cell: Cell, incarnation: int, error: Exception | None) -> None:
        if cell.incarnation != incarnation or cell.dead:
            return
        self.release(cell)
        await cell.stop(terminate=True, timeout_s=cell.shutdown_s)
        if error is not None:
            self._system._unsupervised_failed(cell, error)
