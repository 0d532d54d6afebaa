"""Restart with backoff (fake sleep, no real waiting) and policy validation."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest
from async_helpers import ManualClock
from async_helpers import async_test
from hypothesis import given
from hypothesis import strategies as st

from sagacrew.runtime.actors import Actor
from sagacrew.runtime.actors import ActorSystem
from sagacrew.runtime.actors import Backoff
from sagacrew.runtime.actors import ChildSpec
from sagacrew.runtime.actors import InvalidSupervisorSpec
from sagacrew.runtime.actors import SupervisorSpec
from sagacrew.runtime.actors import WhichChildren


class Flaky(Actor):
    """Fails on "crash", counts "count"."""

    def __init__(self) -> None:
        self.count = 0

    async def receive(self, message: Any) -> Any:
        if message == "crash":
            raise RuntimeError("crash")
        self.count += 1
        return self.count


@async_test
async def test_backoff_delays_double_from_min_and_stop_at_max() -> None:
    delays: list[float] = []

    async def fake_sleep(delay_s: float) -> None:
        delays.append(delay_s)

    system = ActorSystem(clock=ManualClock(), sleep=fake_sleep)
    spec = SupervisorSpec(
        intensity=100,
        backoff=Backoff(min_s=0.5, max_s=3.0),
        children=[ChildSpec("w", Flaky)],
    )
    root = await system.start(spec)
    ref = system.lookup("w")
    for _ in range(6):
        with pytest.raises(RuntimeError):
            await ref.ask("crash")
    await root.ask(WhichChildren())
    assert delays == [0.5, 1.0, 2.0, 3.0, 3.0, 3.0]
    assert system.restarts == 6
    await system.stop()


@async_test
async def test_backoff_restarts_from_min_after_the_child_ran_for_reset_after_s() -> None:
    clock = ManualClock()
    delays: list[float] = []

    async def fake_sleep(delay_s: float) -> None:
        delays.append(delay_s)

    system = ActorSystem(clock=clock, sleep=fake_sleep)
    spec = SupervisorSpec(
        intensity=100,
        period_s=1.0,
        backoff=Backoff(min_s=1.0, max_s=60.0, reset_after_s=30.0),
        children=[ChildSpec("w", Flaky)],
    )
    root = await system.start(spec)
    ref = system.lookup("w")
    for step_s in (0.0, 0.0, 31.0, 0.0):
        clock.now += step_s
        with pytest.raises(RuntimeError):
            await ref.ask("crash")
        await root.ask(WhichChildren())
    assert delays == [1.0, 2.0, 1.0, 2.0]
    await system.stop()


@async_test
async def test_messages_sent_during_a_backoff_delay_wait_in_the_mailbox() -> None:
    sleeping = asyncio.Event()
    wake = asyncio.Event()

    async def gated_sleep(delay_s: float) -> None:
        sleeping.set()
        await wake.wait()

    system = ActorSystem(clock=ManualClock(), sleep=gated_sleep)
    spec = SupervisorSpec(backoff=Backoff(min_s=1.0, max_s=1.0), children=[ChildSpec("w", Flaky)])
    await system.start(spec)
    ref = system.lookup("w")
    with pytest.raises(RuntimeError):
        await ref.ask("crash")
    await sleeping.wait()
    assert ref.is_alive()
    ref.tell("count")
    answer = asyncio.ensure_future(ref.ask("count"))
    assert not answer.done()
    wake.set()
    assert await answer == 2
    assert system.dead_letters.count == 0
    await system.stop()


def test_jitter_is_drawn_from_the_injected_rng_and_stays_within_the_factor() -> None:
    backoff = Backoff(min_s=1.0, max_s=100.0, random_factor=0.2)
    first = [backoff.delay_s(n, random.Random(7)) for n in range(5)]
    again = [backoff.delay_s(n, random.Random(7)) for n in range(5)]
    assert first == again
    for n, delay_s in enumerate(first):
        assert 0.8 * 2**n <= delay_s <= 1.2 * 2**n


def test_zero_min_means_immediate_restart() -> None:
    assert Backoff().delay_s(10, random.Random(1)) == 0.0


@given(
    min_s=st.floats(min_value=0.0, max_value=10.0),
    extra_s=st.floats(min_value=0.0, max_value=100.0),
    random_factor=st.floats(min_value=0.0, max_value=1.0),
    restart_count=st.integers(min_value=0, max_value=5000),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_backoff_delay_is_always_within_zero_and_max(
    min_s: float, extra_s: float, random_factor: float, restart_count: int, seed: int
) -> None:
    backoff = Backoff(min_s=min_s, max_s=min_s + extra_s, random_factor=random_factor)
    delay_s = backoff.delay_s(restart_count, random.Random(seed))
    assert 0.0 <= delay_s <= backoff.max_s


@given(
    min_s=st.floats(min_value=0.001, max_value=10.0),
    extra_s=st.floats(min_value=0.0, max_value=100.0),
    restart_count=st.integers(min_value=0, max_value=200),
)
def test_backoff_without_jitter_never_decreases(
    min_s: float, extra_s: float, restart_count: int
) -> None:
    backoff = Backoff(min_s=min_s, max_s=min_s + extra_s)
    rng = random.Random(0)
    assert backoff.delay_s(restart_count, rng) <= backoff.delay_s(restart_count + 1, rng)


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: Backoff(min_s=-1.0), "min_s"),
        (lambda: Backoff(min_s=2.0, max_s=1.0), "max_s"),
        (lambda: Backoff(random_factor=1.5), "random_factor"),
        (lambda: ChildSpec("a/b", Flaky), "name"),
        (lambda: ChildSpec("w", Flaky, restart="forever"), "restart"),  # type: ignore[arg-type]
        (lambda: ChildSpec("w", Flaky, shutdown_s=-1.0), "shutdown_s"),
        (lambda: SupervisorSpec(strategy="all_for_one"), "strategy"),  # type: ignore[arg-type]
        (lambda: SupervisorSpec(intensity=-1), "intensity"),
        (lambda: SupervisorSpec(period_s=0.0), "period_s"),
        (
            lambda: SupervisorSpec(children=[ChildSpec("w", Flaky), ChildSpec("w", Flaky)]),
            "children",
        ),
    ],
)
def test_invalid_policies_are_rejected_naming_the_field(make: Any, field: str) -> None:
    with pytest.raises(InvalidSupervisorSpec) as caught:
        make()
    assert caught.value.field == field
    assert "invalid" in str(caught.value)
