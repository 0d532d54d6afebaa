"""What the saga benchmarks share: the service, the 5-step saga, the pool, the step clock.

Every system under test runs the same workload: ``STEPS``-step sagas, ``concurrency`` at a
time, each step one call to :class:`Service` (a dict lookup, deduplicated by key). Each
step's body stamps :meth:`StepClock.mark` first, so a step cycle (the body of step i
starting to the body of step i+1 starting) is measured the same way for every system.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from sagacrew.runtime.messages import Envelope, new_id, new_ordered_id
from sagacrew.runtime.saga import SagaDefinition, SagaOrchestrator, SagaStep, StepContext
from sagacrew.runtime.store import (
    GroupCommitter,
    SagaExecution,
    SagaTransition,
    SagaUpdate,
    StepLogEntry,
    encoded,
    open_store,
)

STEPS = 5


class Service:
    """Replies once per idempotency key."""

    def __init__(self) -> None:
        self.replies: dict[str, dict[str, Any]] = {}

    def reply(self, key: str, name: str) -> dict[str, Any]:
        """The reply to command ``name`` sent with ``key``: made once, then repeated."""
        found = self.replies.get(key)
        if found is None:
            found = self.replies[key] = {f"{name}_id": key}
        return found

    async def dispatch(self, target: str, envelope: Envelope) -> Mapping[str, Any]:
        return self.reply(envelope.idempotency_key or envelope.message_id, envelope.name)


class StepClock:
    """When each saga's step bodies started (``time.perf_counter``, per saga key)."""

    def __init__(self) -> None:
        self.starts: dict[str, list[float]] = {}

    def mark(self, saga_key: str) -> None:
        """Called first thing in a step's body."""
        self.starts.setdefault(saga_key, []).append(time.perf_counter())

    def cycles_ms(self) -> list[float]:
        """Every step cycle in ms (step i's body starting to step i+1's), ascending."""
        return sorted(
            (later - earlier) * 1000
            for marks in self.starts.values()
            for earlier, later in pairwise(marks)
        )


@dataclass(frozen=True)
class Run:
    """One measured run: sagas/s, and its step cycles in ms (ascending)."""

    rate: float
    cycles_ms: list[float]


def definition(clock: StepClock) -> SagaDefinition:
    """The benchmark saga: ``STEPS`` steps, each sending one command to the service."""

    def action(name: str, *, timed: bool) -> Any:
        async def run(ctx: StepContext) -> Mapping[str, Any]:
            if timed:
                clock.mark(ctx.data["order_id"])
            reply: Mapping[str, Any] = await ctx.send(
                "svc", name, {"order_id": ctx.data["order_id"]}
            )
            return reply

        return run

    steps = [
        SagaStep(
            f"step{i}",
            action(f"do{i}", timed=True),
            action(f"undo{i}", timed=False),
            pivot=i == STEPS - 2,
        )
        for i in range(STEPS)
    ]
    return SagaDefinition("bench", steps)


async def run_pool(count: int, concurrency: int, one: Callable[[int], Awaitable[None]]) -> float:
    """Run ``one(i)`` for i < count with at most ``concurrency`` in flight; sagas/s."""
    next_index = iter(range(count))

    async def worker() -> None:
        for index in next_index:
            await one(index)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return count / (time.perf_counter() - started)


async def run_sagacrew(url: str, count: int, concurrency: int) -> Run:
    """``count`` sagas through ``SagaOrchestrator`` over ``open_store(url)``."""
    clock = StepClock()
    store = open_store(url)
    orchestrator = SagaOrchestrator(store, [definition(clock)], dispatch=Service().dispatch)

    async def one(index: int) -> None:
        result = await orchestrator.run("bench", {"order_id": f"o-{index}"})
        assert result.state == "completed", result

    try:
        rate = await run_pool(count, concurrency, one)
        return Run(rate, clock.cycles_ms())
    finally:
        await orchestrator.close()
        store.close()


def percentile(ordered: list[float], percent: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    rank = max(1, -(-len(ordered) * percent // 100))
    return ordered[int(rank) - 1]


def step_row(saga_id: str, index: int, status: str, at: float, result: Any = None) -> StepLogEntry:
    """Step ``index``'s step-log row in ``status``, as sagacrew writes it."""
    key = f"{saga_id}:{index}:forward:1"
    ended = None if result is None else at
    return StepLogEntry(
        saga_id, index, f"step{index}", "forward", status, 1, True, key, at, saga_id,
        new_id(), ended, None if ended is None else 0.0, None, result,
    )  # fmt: skip


def new_saga(saga_id: str, data: dict[str, Any], now: float) -> SagaExecution:
    """The benchmark saga's row as it starts (its own correlation id)."""
    return SagaExecution(
        saga_id, "bench", "running", 0, STEPS, 0, STEPS - 2, data, saga_id, saga_id,
        now, now, now + 300,
    )  # fmt: skip


def saga_completed(saga_id: str, data: dict[str, Any], now: float) -> SagaUpdate:
    """The saga's row as its last step succeeds, with all its ``data``."""
    return SagaUpdate(
        saga_id, now, state="completed", step_index=STEPS, data=data, steps_completed=STEPS,
        ended_at=now,
    )  # fmt: skip


def saga_created(saga_id: str, data: dict[str, Any], now: float) -> SagaTransition:
    """A saga's first transition: its row created, its first step started."""
    saga = new_saga(saga_id, data, now)
    return SagaTransition(create=saga, step=step_row(saga_id, 0, "started", now))


def step_succeeded(
    saga_id: str, step: int, data: dict[str, Any], result: dict[str, Any], now: float
) -> SagaTransition:
    """Step ``step`` succeeded with ``result`` (``data``: the saga's data with it): with
    the next step's start, or, after the last step, the saga completed (a running saga's
    row is not updated at each step)."""
    last = step == STEPS - 1
    update = saga_completed(saga_id, data, now) if last else None
    after = None if last else step_row(saga_id, step + 1, "started", now)
    done = step_row(saga_id, step, "succeeded", now, result)
    return SagaTransition(update=update, step=done, next_step=after)


async def run_store_path(url: str, count: int, concurrency: int) -> Run:
    """``count`` sagas' rows, as sagacrew writes them, through its group committer and
    ``open_store(url)``, with no engine: the step-log rows, the saga's creation and its
    completion, each commit awaited before the next step. The most any engine over this
    store and schema can reach."""
    clock = StepClock()
    store = open_store(url)
    committer = GroupCommitter(
        store.apply_saga_transitions, store.apply_saga_transition, writer=store.writer_thread()
    )
    service = Service()

    async def one(index: int) -> None:
        saga_id, order_id = new_ordered_id(), f"o-{index}"
        data: dict[str, Any] = {"order_id": order_id}
        await committer.apply(saga_created(saga_id, data, time.time()))
        for step in range(STEPS):
            clock.mark(order_id)
            result = encoded(service.reply(f"{saga_id}:{step}:forward:1", f"do{step}"))
            data = {**data, **result}
            await committer.apply(step_succeeded(saga_id, step, data, result, time.time()))

    try:
        return Run(await run_pool(count, concurrency, one), clock.cycles_ms())
    finally:
        committer.flush()
        store.close()
