"""Fault injection for completion events: work completes, its event arrives late.

:class:`LateCompletions` picks, by a hash of the call's key (so a rerun meets the same
faults), the calls whose completion event is delivered ``delay_s`` after the work was
done: after the waiting step may have timed out (see :class:`SandboxGateway`).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable

__all__ = ["LateCompletions"]

logger = logging.getLogger("sagacrew.runtime.externals")


def _unit(key: str) -> float:
    """A number in [0, 1] determined by ``key`` alone."""
    return int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF


class LateCompletions:
    """Fault injection for sandbox gateways: a call's work completes on time (``completed``
    in the ledger) but its completion event is delivered ``delay_s`` later, after the
    waiting saga step has timed out and the saga has compensated it.

    - ``rate`` (default 0.0, none): the share of calls whose event comes late; decided by
      a hash of the call's idempotency key, so the same call is always late, or never.
    - ``delay_s`` (default 1.0): how much later than the completion the event arrives.

    ``pending`` counts the late events not delivered yet; ``await delivered()`` returns
    once every one of them has been delivered (waiting on them, not polling).
    """

    def __init__(self, *, rate: float = 0.0, delay_s: float = 1.0) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"late completion rate={rate} must be within [0, 1]")
        if delay_s < 0:
            raise ValueError(f"late completion delay_s={delay_s} must be >= 0")
        self.rate = rate
        self.delay_s = delay_s
        self._tasks: set[asyncio.Task[None]] = set()

    def applies_to(self, idempotency_key: str) -> bool:
        """True when the completion event of the call with this key is delivered late."""
        return self.rate > 0.0 and _unit(f"late:{idempotency_key}") < self.rate

    def schedule(self, deliver: Callable[[], Awaitable[bool]]) -> asyncio.Task[None]:
        """Call ``deliver`` ``delay_s`` from now; return the task doing it."""

        async def later() -> None:
            await asyncio.sleep(self.delay_s)
            try:
                await deliver()
            except Exception:
                logger.exception("late completion event could not be delivered")

        task = asyncio.get_running_loop().create_task(later())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    @property
    def pending(self) -> int:
        """Late completion events scheduled and not delivered yet."""
        return len(self._tasks)

    async def delivered(self) -> None:
        """Return once every late completion event scheduled so far has been delivered
        (or dropped because its gateway stopped)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
