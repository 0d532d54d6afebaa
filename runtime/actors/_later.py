"""``ReplyLater``: answer an ask when some work ends, while the actor takes its next message.

An actor that waits on slow outside work (an HTTP call) would hold its whole mailbox for
the length of that call. Like Akka's ``pipeTo``, ``receive`` may start the work as a task
and return ``ReplyLater(task)``: the message loop goes on at once, and the ask is answered
when the task ends, with its result or its exception. That exception goes to the asker
only: the actor has not failed, so its supervisor is not told. The actor keeps the tasks
it started and cancels them when it stops (the asks then get a ``DeadLetterError``).
"""

from __future__ import annotations

import asyncio
from typing import Any

from ._errors import DeadLetterError


class ReplyLater:
    """What ``receive`` returns to answer the ask when ``task`` ends (see the module)."""

    __slots__ = ("task",)

    def __init__(self, task: asyncio.Future[Any]) -> None:
        self.task = task

    def answer(self, reply: asyncio.Future[Any], path: str, message: Any) -> None:
        """Set ``reply`` (the ask of ``message`` to the actor at ``path``) from the task."""

        def done(task: asyncio.Future[Any]) -> None:
            error = None if task.cancelled() else task.exception()  # retrieved, always
            if reply.done():
                return  # the asker gave up (timeout)
            if task.cancelled():
                reply.set_exception(DeadLetterError(path, message, "the actor stopped"))
            elif error is not None:
                reply.set_exception(error)
            else:
                reply.set_result(task.result())

        self.task.add_done_callback(done)
