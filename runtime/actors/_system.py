"""``ActorSystem``: starts supervision trees and top-level actors, resolves paths, stops it all."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol

from ._actor import Actor
from ._cell import Cell
from ._dead_letters import DeadLetters
from ._errors import ActorError, ActorInitializationError, ActorNotFound, InvalidActorName
from ._parents import StoppingParent, check_actor_name
from ._policy import SupervisorSpec
from ._ref import ActorRef
from ._supervisor import Supervisor

logger = logging.getLogger("sagacrew.runtime.actors")


class MessageObserver(Protocol):
    """Called once per message handled by a (non-supervisor) actor, after ``receive``.

    ``elapsed_s`` is measured with the system's clock; ``error`` is what ``receive`` raised, or
    ``None``. It runs inside the actor's loop, so it must be quick; exceptions are logged.
    """

    def __call__(
        self, actor_path: str, message: Any, elapsed_s: float, error: BaseException | None, /
    ) -> None:
        """Observe one handled message (arguments are passed positionally)."""


class ActorSystem:
    """A set of actors on the running asyncio loop.

    ``clock`` (default ``time.monotonic``, seconds) times restart intensity, backoff resets and
    ``MessageObserver.elapsed_s``; ``sleep`` (default ``asyncio.sleep``) waits out backoff
    delays; ``rng`` (default a fresh ``random.Random()``) draws backoff jitter. Ask timeouts and
    ``shutdown_s`` use the event loop's clock. ``throughput`` (default 100) is how many messages
    an actor handles before yielding to other tasks (Akka's dispatcher throughput).
    ``dead_letter_capacity`` (default 1000) bounds ``dead_letters.items``.

    ``restarts`` counts actor restarts (one per child instance restarted). ``failed`` is set
    when a top-level supervisor fails (its intensity was exceeded, or a child escalated to it);
    ``failure`` then holds the error.
    """

    def __init__(
        self,
        name: str = "system",
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
        observer: MessageObserver | None = None,
        throughput: int = 100,
        dead_letter_capacity: int = 1000,
    ) -> None:
        if throughput < 1:
            raise ActorError(f"ActorSystem throughput={throughput!r} is invalid: use >= 1")
        self.name = name
        self._clock = clock
        self._sleep = sleep
        self._rng = rng if rng is not None else random.Random()
        self._observer = observer
        self._throughput = throughput
        self.dead_letters = DeadLetters(dead_letter_capacity)
        self.restarts = 0
        self.failed = asyncio.Event()
        self.failure: BaseException | None = None
        self._cells: dict[str, Cell] = {}
        self._names: dict[str, dict[str, Cell]] = {}
        self._top: dict[str, Cell] = {}
        self._guardian = StoppingParent(self, self._top)
        self._tasks: set[asyncio.Task[None]] = set()

    # -- injected dependencies, shared with whoever builds on the system -------------------

    def clock(self) -> float:
        """The system's clock, in seconds."""
        return self._clock()

    async def sleep(self, delay_s: float) -> None:
        """The system's sleep (used for backoff delays)."""
        await self._sleep(delay_s)

    @property
    def rng(self) -> random.Random:
        """The system's random generator (used for backoff jitter)."""
        return self._rng

    # -- starting -------------------------------------------------------------------------

    async def start(self, root: SupervisorSpec, name: str = "root") -> ActorRef:
        """Start a supervision tree at path ``name``; children start in order, depth first.

        Returns the root supervisor's reference once every child's ``pre_start`` has run.
        Raises ``ActorInitializationError`` (naming the innermost failing actor) if any child
        fails to start; the children already started are stopped in reverse order first.
        """
        spec = root
        return await self._start_top(name, lambda: Supervisor(spec), None, is_supervisor=True)

    async def spawn(
        self, factory: Callable[[], Actor], name: str, *, shutdown_s: float = 5.0
    ) -> ActorRef:
        """Start a top-level, unsupervised actor at path ``name``.

        It is stopped (never restarted) when it fails or calls ``context.stop()``. Raises
        ``InvalidActorName`` if the path is taken, ``ActorInitializationError`` if it fails to
        start.
        """
        return await self._start_top(name, factory, shutdown_s, is_supervisor=False)

    async def _start_top(
        self,
        name: str,
        factory: Callable[[], Actor],
        shutdown_s: float | None,
        *,
        is_supervisor: bool,
    ) -> ActorRef:
        check_actor_name(name, name)
        if name in self._top or name in self._cells:
            raise InvalidActorName(name, "a top-level actor with this name is running")
        cell = Cell(
            self,
            name,
            name,
            factory,
            self._guardian,
            shutdown_s=shutdown_s,
            is_supervisor=is_supervisor,
        )
        self._top[name] = cell
        try:
            await cell.start()
        except Exception as error:
            self._guardian.release(cell)
            cell.terminate()
            if isinstance(error, ActorInitializationError):
                raise
            raise ActorInitializationError(cell.path, error) from error
        return cell.ref

    # -- resolving ------------------------------------------------------------------------

    def lookup(self, path: str) -> ActorRef:
        """The live actor at ``path`` (e.g. ``"root/ordering/ordering.order"``).

        A plain name without ``/`` also finds a child anywhere in the tree when exactly one
        live actor has that name. Raises ``ActorNotFound`` otherwise (saying whether the name
        was missing or ambiguous).
        """
        cell = self._cells.get(path)
        if cell is not None:
            return cell.ref
        if "/" not in path:
            matches = self._names.get(path)
            if matches:
                if len(matches) == 1:
                    return next(iter(matches.values())).ref
                raise ActorNotFound(
                    path, f"the name is ambiguous, use one of the full paths {sorted(matches)}"
                )
        raise ActorNotFound(
            path, "no live actor has this path or name (paths look like 'root/<child>/...')"
        )

    def _register(self, cell: Cell) -> None:
        existing = self._cells.get(cell.path)
        if existing is cell:
            return
        if existing is not None:
            raise InvalidActorName(cell.path, "another actor lives at this path")
        self._cells[cell.path] = cell
        self._names.setdefault(cell.name, {})[cell.path] = cell

    def _unregister(self, cell: Cell) -> None:
        if self._cells.get(cell.path) is cell:
            del self._cells[cell.path]
            same_name = self._names.get(cell.name)
            if same_name is not None:
                same_name.pop(cell.path, None)
                if not same_name:
                    del self._names[cell.name]

    # -- stopping -------------------------------------------------------------------------

    async def stop_actor(self, ref: ActorRef) -> None:
        """Stop an unsupervised actor (from ``spawn`` or ``ActorContext.spawn``) for good.

        Waits for its current message and ``post_stop`` (up to its ``shutdown_s``). Does
        nothing if it is already stopped. Supervised actors are stopped by their supervisor;
        for those this raises ``ActorError``.
        """
        cell = self._cells.get(ref.path)
        if cell is None:
            return
        parent = cell.parent
        if not isinstance(parent, StoppingParent):
            raise ActorError(
                f"actor {ref.path!r} is supervised; stop it from inside with context.stop() "
                "or stop its supervisor"
            )
        parent.release(cell)
        await cell.stop(terminate=True, timeout_s=cell.shutdown_s)

    async def stop(self) -> None:
        """Stop everything: top-level actors and trees in reverse start order.

        Each supervisor stops its children in reverse start order, waiting up to each child's
        ``shutdown_s`` before cancelling it. Messages left in mailboxes go to dead letters.
        """
        while self._top:
            _, cell = self._top.popitem()
            await cell.stop(terminate=True, timeout_s=cell.shutdown_s)
        while self._tasks:
            await asyncio.gather(*tuple(self._tasks), return_exceptions=True)

    async def __aenter__(self) -> ActorSystem:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- internal hooks used by cells ------------------------------------------------------

    def _observe(
        self, path: str, message: Any, elapsed_s: float, error: BaseException | None
    ) -> None:
        observer = self._observer
        if observer is None:
            return
        try:
            observer(path, message, elapsed_s, error)
        except Exception:
            logger.exception("message observer raised for actor %r", path)

    def _background(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _unsupervised_failed(self, cell: Cell, error: Exception) -> None:
        if cell.is_supervisor and cell.parent is self._guardian:
            self.failure = error
            self.failed.set()
            logger.error("supervision tree %r failed: %r", cell.path, error)
        else:
            logger.error("unsupervised actor %r failed and was stopped: %r", cell.path, error)
