"""Restarting a saga whose driver failed: after a backoff, from what the store holds.

A driver fails when something under it raised instead of answering: the store became
unreachable (:class:`~sagacrew.runtime.store.StoreUnavailable`: the saga is *paused*
and restarted, however long the outage lasts), or a defect (a programming error,
corrupt data: restarted at most ``MAX_DEFECT_RESTARTS`` times, then given up until an
operator acts or the process restarts). Each restart re-reads the saga and its step log,
so a transition whose commit was lost is redone, and one that was committed is not.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from sagacrew.runtime.store import StoreUnavailable

logger = logging.getLogger("sagacrew.runtime.saga")

MAX_DEFECT_RESTARTS = 3
"""Restarts of a saga whose driver keeps failing on something other than the store."""

FIRST_DELAY_S = 0.05
MAX_DELAY_S = 5.0


@dataclass
class DriverRestarts:
    """Schedules restarts of failed drivers; ``restart(saga_id)`` resumes one (it raises
    :class:`StoreUnavailable` while the store is down, and is then tried again later);
    ``gave_up(saga_id, error)`` is told when a restart itself spent the defect budget."""

    restart: Callable[[str], Awaitable[None]]
    gave_up: Callable[[str, BaseException], Awaitable[None]]
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    _defects: dict[str, int] = field(default_factory=dict)
    _delays: dict[str, float] = field(default_factory=dict)
    _tasks: dict[str, asyncio.Task[None]] = field(default_factory=dict)

    def pending(self, saga_id: str) -> bool:
        """True while a restart of the saga is scheduled."""
        return saga_id in self._tasks

    def failed(self, saga_id: str, error: BaseException) -> bool:
        """Schedule a restart of the saga after ``error``; False when its defect budget is
        spent (the caller gives it up)."""
        if not isinstance(error, StoreUnavailable):
            self._defects[saga_id] = self._defects.get(saga_id, 0) + 1
            if self._defects[saga_id] > MAX_DEFECT_RESTARTS:
                self.forget(saga_id)
                return False
        self._schedule(saga_id, error)
        return True

    def succeeded(self, saga_id: str) -> None:
        """The saga ended: its budget and backoff start afresh if it is ever redriven."""
        self._defects.pop(saga_id, None)
        self._delays.pop(saga_id, None)

    def forget(self, saga_id: str) -> None:
        self._defects.pop(saga_id, None)
        self._delays.pop(saga_id, None)
        task = self._tasks.pop(saga_id, None)
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    async def close(self) -> None:
        """Cancel every scheduled restart (the sagas resume on the next ``recover()``)."""
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _schedule(self, saga_id: str, error: BaseException) -> None:
        delay = self._delays.get(saga_id, FIRST_DELAY_S / 2) * 2
        if isinstance(error, StoreUnavailable):
            delay = max(delay, min(error.retry_after_s, MAX_DELAY_S))
        delay = min(delay, MAX_DELAY_S)
        self._delays[saga_id] = delay
        if saga_id not in self._tasks:
            self._tasks[saga_id] = asyncio.get_running_loop().create_task(
                self._later(saga_id, delay), name=f"saga-restart:{saga_id}"
            )

    async def _later(self, saga_id: str, delay: float) -> None:
        await self.sleep(delay)
        self._tasks.pop(saga_id, None)
        try:
            await self.restart(saga_id)
        except StoreUnavailable as exc:
            logger.warning("store unavailable; saga restart postponed", extra={"saga_id": saga_id})
            self._schedule(saga_id, exc)
        except Exception as exc:  # a defect while resuming: counted like a driver's
            logger.exception("saga restart failed", extra={"saga_id": saga_id})
            if not self.failed(saga_id, exc):
                await self.gave_up(saga_id, exc)
