"""Lifecycle vocabulary of a cell: its three states, and how instance hooks are run.

States: ``running`` (an instance handles messages, or is in ``pre_start``), ``exited`` (no
instance runs; the parent decides whether to restart; messages still queue), ``terminated``
(stopped for good). Hooks (``post_stop``, ``pre_restart``) never raise into the runtime: their
errors are logged, and waiting for them can be bounded by a timeout.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable

logger = logging.getLogger("sagacrew.runtime.actors")

RUNNING = "running"
EXITED = "exited"
TERMINATED = "terminated"


async def run_hook(hook: Awaitable[None], path: str, hook_name: str) -> None:
    """Await ``hook``; an exception is logged (the actor stops regardless), not raised."""
    try:
        await hook
    except Exception:
        logger.exception("%s of actor %r raised; the actor stops regardless", hook_name, path)


async def bounded(hook: Awaitable[None], timeout_s: float | None, path: str) -> None:
    """Await ``hook`` for up to ``timeout_s`` seconds (``None``: no limit), then cancel it."""
    if timeout_s is None:
        await hook
        return
    try:
        await asyncio.wait_for(hook, timeout_s)
    except TimeoutError:
        logger.error("actor %r did not finish stopping within %s s; cancelled", path, timeout_s)
