"""Step attempts' timeouts: ``asyncio.timeout`` semantics, one timer per millisecond.

Every step attempt runs under a timeout. ``asyncio.timeout`` arms a timer of its own per
attempt (a ``TimerHandle`` pushed on the loop's heap, then cancelled): at every step of
every saga. Here attempts whose deadlines fall in the same millisecond (rounded up) share
one timer, left armed when they end (it fires into an empty slot); so a busy orchestrator
arms at most one timer per millisecond, however many attempts it runs. An attempt times
out at most 1 ms later than its ``timeout_s``; otherwise it behaves as under
``asyncio.timeout``: its task is cancelled, and the cancellation becomes
:class:`TimeoutError` when it leaves the block (unless someone else cancelled it too).
"""

from __future__ import annotations

import asyncio
import math
from types import TracebackType


class AttemptTimeouts:
    """The timeouts of one orchestrator's attempts, by millisecond of their deadline."""

    __slots__ = ("_loop", "_slots")

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._slots: dict[int, dict[_Timeout, None]] = {}

    def after(self, delay_s: float) -> _Timeout:
        """An async context manager timing out its block after ``delay_s`` seconds."""
        return _Timeout(self, delay_s)

    def _enter(self, timeout: _Timeout, loop: asyncio.AbstractEventLoop, delay_s: float) -> int:
        if loop is not self._loop:  # the timers armed are the loop's: start afresh
            self._loop, self._slots = loop, {}
        slot = math.ceil((loop.time() + delay_s) * 1000)
        members = self._slots.get(slot)
        if members is None:
            members = self._slots[slot] = {}
            loop.call_at(slot / 1000, self._fire, slot)
        members[timeout] = None
        return slot

    def _leave(self, timeout: _Timeout, slot: int) -> None:
        members = self._slots.get(slot)
        if members is not None:
            members.pop(timeout, None)

    def _fire(self, slot: int) -> None:
        for timeout in self._slots.pop(slot, {}):
            timeout.expire()


class _Timeout:
    """One attempt's timeout (see :meth:`AttemptTimeouts.after`)."""

    __slots__ = ("_cancelling", "_delay_s", "_owner", "_slot", "_task", "expired")

    def __init__(self, owner: AttemptTimeouts, delay_s: float) -> None:
        self._owner = owner
        self._delay_s = delay_s
        self._task: asyncio.Task[object] | None = None
        self._slot = 0
        self._cancelling = 0
        self.expired = False

    def start(self) -> None:
        """Arm the timeout for the current task (what ``async with`` does on entry; a
        plain call spares an attempt two coroutines)."""
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("a step attempt's timeout is used inside a task")
        self._task = task
        self._cancelling = task.cancelling()
        self._slot = self._owner._enter(self, task.get_loop(), self._delay_s)

    def finish(self, error: BaseException | None) -> None:
        """Disarm it as the block ends, with ``error`` when it raised (what ``async with``
        does on exit): a cancellation the deadline caused becomes :class:`TimeoutError`."""
        if not self.expired:
            self._owner._leave(self, self._slot)
            return
        assert self._task is not None
        if self._task.uncancel() <= self._cancelling and type(error) is asyncio.CancelledError:
            raise TimeoutError from error

    async def __aenter__(self) -> None:
        self.start()

    def expire(self) -> None:
        """The deadline passed: cancel the block's task."""
        self.expired = True
        if self._task is not None:
            self._task.cancel()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.finish(exc)
