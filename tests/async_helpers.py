"""Helpers shared by the async tests: run one test body with a bound (or a whole ``async def``
test, with :func:`async_test`), a hand-moved clock, send one command to an aggregate actor.

(``saga_fakes.FakeClock`` is the other clock: it moves when the orchestrator sleeps.)
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable
from collections.abc import Callable
from typing import Any
from typing import ParamSpec
from typing import TypeVar

from sagacrew.runtime import AggregateActor
from sagacrew.runtime import Envelope

T = TypeVar("T")
P = ParamSpec("P")


def run(body: Awaitable[T] | Callable[[], Awaitable[T]], timeout_s: float = 10.0) -> T:
    """Run one async test body (a coroutine, or a function making one), failing instead of
    hanging when it takes longer than ``timeout_s``."""
    awaitable = body() if callable(body) else body

    async def bounded() -> T:
        return await asyncio.wait_for(awaitable, timeout_s)

    return asyncio.run(bounded())


def async_test(test: Callable[P, Awaitable[None]]) -> Callable[P, None]:
    """Make an ``async def`` test a plain pytest test: each call runs it with :func:`run`, in
    a fresh event loop and bounded by its timeout; pytest sees the test's own parameters."""

    @functools.wraps(test)
    def run_test(*args: P.args, **kwargs: P.kwargs) -> None:
        run(test(*args, **kwargs))

    return run_test


class ManualClock:
    """A clock the test moves by hand (``clock.now += 5``)."""

    def __init__(self, start: float = 0.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def send(actor: AggregateActor, name: str, key: str | None = None, **payload: Any) -> Any:
    """``actor``'s reply to the command ``name`` (``payload``, idempotency ``key``), sent
    directly, outside any actor system, in a fresh event loop."""
    origin = Envelope.origin("test", {})
    return asyncio.run(actor.receive(origin.caused(name, payload, idempotency_key=key)))
