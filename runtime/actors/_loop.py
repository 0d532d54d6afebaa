"""The message loop of a running instance: one message at a time, replies, failures, exit.

``run_messages`` is the body of a cell's task: it takes messages off the mailbox in order,
awaits ``receive``, answers asks (at once, or when the task of a ``ReplyLater`` ends),
yields to other tasks every ``throughput`` messages, asks the parent for a directive when
``receive`` raises, and finalizes the instance on a normal exit (``context.stop()`` or a
stop requested by the parent).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from ._errors import DeadLetterError
from ._later import ReplyLater
from ._lifecycle import EXITED, run_hook
from ._ref import Ask

if TYPE_CHECKING:
    from ._actor import Actor
    from ._cell import Cell

logger = logging.getLogger("sagacrew.runtime.actors")


async def run_messages(cell: Cell, instance: Actor) -> None:
    """Handle ``cell``'s mailbox with ``instance`` until it stops or fails for good."""
    mailbox = cell.mailbox
    receive = instance.receive
    system = cell.system
    observer = None if cell.is_supervisor else system._observer
    clock = system._clock
    throughput = system._throughput
    loop = asyncio.get_running_loop()
    reply: asyncio.Future[Any] | None = None
    message: Any = None
    handling = False
    budget = throughput
    try:
        while not cell.stop_requested:
            if not mailbox:
                budget = throughput
                waiter = loop.create_future()
                cell.waiter = waiter
                await waiter
                continue
            if budget == 0:
                # Let other tasks run: a busy actor must not monopolise the loop.
                budget = throughput
                await asyncio.sleep(0)
                continue
            budget -= 1
            item = mailbox.popleft()
            if type(item) is Ask:
                message = item.message
                reply = item.reply
            else:
                message = item
                reply = None
            handling = True
            if observer is None:
                try:
                    result = await receive(message)
                except Exception as error:
                    handling = False
                    if _on_failure(cell, error, reply):
                        continue
                    return
            else:
                started = clock()
                try:
                    result = await receive(message)
                except Exception as error:
                    handling = False
                    system._observe(cell.path, message, clock() - started, error)
                    if _on_failure(cell, error, reply):
                        continue
                    return
                system._observe(cell.path, message, clock() - started, None)
            handling = False
            if reply is not None and not reply.done():
                if type(result) is ReplyLater:
                    result.answer(reply, cell.path, message)
                else:
                    reply.set_result(result)
    except asyncio.CancelledError:
        cell.waiter = None
        if handling:
            system.dead_letters.publish(cell.path, message, "cancelled")
            if reply is not None and not reply.done():
                reply.set_exception(
                    DeadLetterError(cell.path, message, "cancelled after shutdown_s")
                )
        raise
    cell.waiter = None
    cell.state = EXITED
    await cell.stop_children()
    await run_hook(instance.post_stop(), cell.path, "post_stop")
    cell.instance = None
    if cell.self_stop and not cell.parent_stopping:
        cell.parent.child_exited(cell, cell.incarnation, None, None)


def _on_failure(cell: Cell, error: Exception, reply: asyncio.Future[Any] | None) -> bool:
    """Handle ``receive`` raising; True to resume with the next message."""
    if reply is not None and not reply.done():
        reply.set_exception(error)
    directive = cell.parent.decide(error)
    if directive == "resume" and not cell.is_supervisor:
        logger.warning("actor %r failed with %r; resumed", cell.path, error)
        return True
    cell.waiter = None
    cell.state = EXITED
    cell.error = error
    if not cell.parent_stopping:
        cell.parent.child_exited(cell, cell.incarnation, error, directive)
    return False
