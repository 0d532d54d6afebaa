"""The actor cell: one per actor path; owns the mailbox, the current instance and its task.

A cell outlives its instances: a restart replaces the instance and keeps the mailbox (Akka).
States: ``running`` (an instance handles messages, or is in ``pre_start``), ``exited`` (no
instance runs; the parent decides whether to restart; messages still queue), ``terminated``
(stopped for good; the mailbox went to dead letters and new messages follow it there).

Starting and stopping a cell is done by its parent, one operation at a time; the cell reports
its own exits (a failure, or ``context.stop()``) through ``Parent.child_exited``. The message
loop itself is in ``_loop``, the parents in ``_parents``, states and hook runners in
``_lifecycle``.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import deque
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass, field
from typing import TYPE_CHECKING, Any

from ._actor import Actor, ActorContext
from ._errors import ActorInitializationError, ActorNotFound, DeadLetterError, InvalidActorName
from ._lifecycle import EXITED, RUNNING, TERMINATED, bounded, run_hook
from ._loop import run_messages
from ._parents import Parent, StoppingParent, check_actor_name
from ._ref import ActorRef, Ask

if TYPE_CHECKING:
    from ._system import ActorSystem

logger = logging.getLogger("sagacrew.runtime.actors")


class Signal:
    """Base of internal system messages (never published as dead letters)."""

    __slots__ = ()


@dataclass(slots=True, eq=False, repr=False)
class Cell:
    """Mailbox, current instance, message-loop task and children of one actor path."""

    system: ActorSystem
    path: str
    name: str
    factory: Callable[[], Actor]
    parent: Parent
    _: KW_ONLY
    shutdown_s: float | None
    is_supervisor: bool
    mailbox: deque[Any] = field(default_factory=deque, init=False)
    waiter: asyncio.Future[None] | None = field(default=None, init=False)
    dead: bool = field(default=False, init=False)
    state: str = field(default=EXITED, init=False)
    instance: Actor | None = field(default=None, init=False)
    task: asyncio.Task[None] | None = field(default=None, init=False)
    incarnation: int = field(default=0, init=False)
    started_at: float | None = field(default=None, init=False)
    error: Exception | None = field(default=None, init=False)
    stop_requested: bool = field(default=False, init=False)
    self_stop: bool = field(default=False, init=False)
    parent_stopping: bool = field(default=False, init=False)
    children: dict[str, Cell] = field(default_factory=dict, init=False)
    _adhoc_parent: StoppingParent | None = field(default=None, init=False)
    ref: ActorRef = field(init=False)
    context: ActorContext = field(init=False)

    def __post_init__(self) -> None:
        self.ref = ActorRef(self.system, self.path, self)
        self.context = ActorContext(self.ref, self.system, self.path, self.name, self)

    # -- delivery ---------------------------------------------------------------------------

    def enqueue(self, item: Any) -> None:
        """Put ``item`` in the mailbox and wake the loop; a terminated cell drops signals."""
        if self.dead:
            if not isinstance(item, Signal):
                self.system.dead_letters.publish(self.path, item, "stopped")
            return
        self.mailbox.append(item)
        self._wake()

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None:
            self.waiter = None
            if not waiter.done():
                waiter.set_result(None)

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Start a fresh instance: factory, ``pre_start``, then the message loop.

        Raises what the factory or ``pre_start`` raised; the cell is then ``exited`` with no
        instance to finalize (``post_stop`` is not called for an instance that never started).
        """
        self.system._register(self)
        self.dead = False
        self.incarnation += 1
        self.stop_requested = self.self_stop = self.parent_stopping = False
        self.error = None
        self.started_at = self.system._clock()
        self.state = RUNNING
        try:
            instance = self.factory()
            if not isinstance(instance, Actor):
                raise TypeError(
                    f"the factory of actor {self.path!r} returned {instance!r}; "
                    "it must return a new Actor instance"
                )
            instance.context = self.context
            self.instance = instance
            await instance.pre_start()
        except Exception:
            self.instance = None
            self.state = EXITED
            await self.stop_children()
            raise
        loop = asyncio.get_running_loop()
        self.task = loop.create_task(run_messages(self, instance), name=f"actor:{self.path}")

    def request_self_stop(self) -> None:
        """``context.stop()``: end after the current message, as a normal exit."""
        self.self_stop = True
        self.stop_requested = True
        self._wake()

    async def stop(self, *, terminate: bool, timeout_s: float | None) -> None:
        """Stop the current instance as its parent (no exit is reported back).

        Waits up to ``timeout_s`` (``None``: no limit) for the current message and
        ``post_stop``, then cancels the task (no hooks run for a cancelled instance) and kills
        its children. A failed instance not yet finalized gets ``post_stop``. With
        ``terminate`` the cell is stopped for good and its mailbox goes to dead letters;
        otherwise the mailbox is kept for a restart.
        """
        if self.dead:
            return
        if timeout_s is not None and math.isinf(timeout_s):
            timeout_s = None
        self.parent_stopping = True
        task = self.task
        killed = False
        if task is not None and not task.done():
            self.stop_requested = True
            self._wake()
            if timeout_s is None:
                await asyncio.wait({task})
            else:
                done, _ = await asyncio.wait({task}, timeout=timeout_s)
                if not done:
                    logger.error(
                        "actor %r did not stop within shutdown_s=%s; cancelled",
                        self.path,
                        timeout_s,
                    )
                    self.waiter = None
                    task.cancel()
                    await asyncio.wait({task})
                    self.instance = None
                    killed = True
        self.task = None
        if killed:
            await self.stop_children(kill=True)
        instance = self.instance
        if instance is not None:
            self.instance = None
            await self.stop_children()
            await bounded(
                run_hook(instance.post_stop(), self.path, "post_stop"), timeout_s, self.path
            )
        self.state = EXITED
        if terminate:
            self.terminate()

    async def finalize_for_restart(self, error: Exception | None) -> None:
        """Before a restart: stop children, then ``pre_restart(error)`` on the old instance.

        Nothing to do when the instance already ran ``post_stop`` (a normal exit) or never
        started. Bounded by ``shutdown_s``.
        """
        instance = self.instance
        if instance is None:
            return
        self.instance = None
        await self.stop_children()
        if error is None:
            hook, hook_name = instance.post_stop(), "post_stop"
        else:
            hook, hook_name = instance.pre_restart(error), "pre_restart"
        await bounded(run_hook(hook, self.path, hook_name), self.shutdown_s, self.path)

    def terminate(self) -> None:
        """Mark the cell stopped for good and send its mailbox to dead letters."""
        if self.dead:
            return
        self.dead = True
        self.state = TERMINATED
        self.system._unregister(self)
        dead_letters = self.system.dead_letters
        mailbox = self.mailbox
        while mailbox:
            item = mailbox.popleft()
            if isinstance(item, Signal):
                continue
            if type(item) is Ask:
                dead_letters.publish(self.path, item.message, "stopped")
                if not item.reply.done():
                    item.reply.set_exception(
                        DeadLetterError(self.path, item.message, "the actor stopped first")
                    )
            else:
                dead_letters.publish(self.path, item, "stopped")

    # -- children -------------------------------------------------------------------------

    def new_child(
        self,
        name: str,
        factory: Callable[[], Actor],
        parent: Parent,
        *,
        shutdown_s: float | None,
        is_supervisor: bool,
    ) -> Cell:
        """Create (not start) a child cell at ``<path>/<name>``."""
        path = f"{self.path}/{name}"
        check_actor_name(path, name)
        if name in self.children:
            raise InvalidActorName(path, f"{self.path!r} already has a child named {name!r}")
        cell = Cell(
            self.system,
            path,
            name,
            factory,
            parent,
            shutdown_s=shutdown_s,
            is_supervisor=is_supervisor,
        )
        self.children[name] = cell
        return cell

    async def stop_children(self, *, kill: bool = False) -> None:
        """Stop every child for good, in reverse start order (``kill``: cancel at once)."""
        while self.children:
            _, child = self.children.popitem()
            await child.stop(terminate=True, timeout_s=0.0 if kill else child.shutdown_s)

    def live_children(self) -> list[ActorRef]:
        """References to the children that are not stopped, in start order."""
        return [child.ref for child in self.children.values() if not child.dead]

    async def spawn_child(
        self, factory: Callable[[], Actor], name: str, *, shutdown_s: float
    ) -> ActorRef:
        """Start an unsupervised child (stopped when it fails); see ``ActorContext.spawn``."""
        if self._adhoc_parent is None:
            self._adhoc_parent = StoppingParent(self.system, self.children)
        child = self.new_child(
            name, factory, self._adhoc_parent, shutdown_s=shutdown_s, is_supervisor=False
        )
        try:
            await child.start()
        except Exception as error:
            self.children.pop(name, None)
            child.terminate()
            raise ActorInitializationError(child.path, error) from error
        return child.ref

    async def stop_child(self, ref: ActorRef) -> None:
        """Stop a child spawned with ``spawn_child`` for good."""
        child = self.children.get(ref.path.rpartition("/")[2])
        if child is None or child.path != ref.path or not isinstance(child.parent, StoppingParent):
            raise ActorNotFound(ref.path, f"not a child spawned by {self.path!r}")
        child.parent.release(child)
        await child.stop(terminate=True, timeout_s=child.shutdown_s)
