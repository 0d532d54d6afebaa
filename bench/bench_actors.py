"""Actor runtime overhead against bare asyncio, measured in the same run.

    python bench/bench_actors.py [--messages N] [--round-trips N] [--repeat N]

1. tell throughput: N one-way messages to an actor vs N items through one ``asyncio.Queue``
   consumed by one task (goal: ratio >= 1/3).
2. ask round trips: N sequential ``ask`` calls vs a ping-pong pair of tasks over two
   ``asyncio.Queue`` objects (goal: ratio >= 1/3).

Each figure is the best of ``--repeat`` runs; ratio = actor msgs/s / baseline msgs/s.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable, Coroutine
from typing import Any

from sagacrew.runtime.actors import Actor, ActorSystem


class Counter(Actor):
    """Counts one-way messages; answers the count to "count"."""

    def __init__(self) -> None:
        self.seen = 0

    async def receive(self, message: Any) -> Any:
        if message == "count":
            return self.seen
        self.seen += 1
        return None


class Pong(Actor):
    """Replies with the message."""

    async def receive(self, message: Any) -> Any:
        return message


async def queue_one_way(n: int) -> float:
    queue: asyncio.Queue[int | None] = asyncio.Queue()

    async def consumer() -> int:
        seen = 0
        while True:
            item = await queue.get()
            if item is None:
                return seen
            seen += 1

    task = asyncio.ensure_future(consumer())
    started = time.perf_counter()
    for i in range(n):
        queue.put_nowait(i)
    queue.put_nowait(None)
    assert await task == n
    return time.perf_counter() - started


async def actor_tell(n: int) -> float:
    system = ActorSystem()
    ref = await system.spawn(Counter, "counter")
    started = time.perf_counter()
    for i in range(n):
        ref.tell(i)
    assert await ref.ask("count") == n
    elapsed = time.perf_counter() - started
    await system.stop()
    return elapsed


async def queue_ping_pong(n: int) -> float:
    requests: asyncio.Queue[int | None] = asyncio.Queue()
    replies: asyncio.Queue[int] = asyncio.Queue()

    async def ponger() -> None:
        while True:
            item = await requests.get()
            if item is None:
                return
            replies.put_nowait(item)

    task = asyncio.ensure_future(ponger())
    started = time.perf_counter()
    for i in range(n):
        requests.put_nowait(i)
        assert await replies.get() == i
    elapsed = time.perf_counter() - started
    requests.put_nowait(None)
    await task
    return elapsed


async def actor_ask(n: int) -> float:
    system = ActorSystem()
    ref = await system.spawn(Pong, "pong")
    started = time.perf_counter()
    for i in range(n):
        assert await ref.ask(i) == i
    elapsed = time.perf_counter() - started
    await system.stop()
    return elapsed


def best_rate(run: Callable[[int], Coroutine[Any, Any, float]], n: int, repeat: int) -> float:
    """Messages per second of the fastest of ``repeat`` runs."""
    return n / min(asyncio.run(run(n)) for _ in range(repeat))


def report(title: str, baseline_label: str, baseline: float, actor: float) -> None:
    ratio = actor / baseline
    verdict = "ok" if ratio >= 1 / 3 else "BELOW GOAL"
    print(f"{title}")
    print(f"  {baseline_label:<28} {baseline:>12,.0f} msgs/s")
    print(f"  {'actors':<28} {actor:>12,.0f} msgs/s")
    print(f"  ratio {ratio:.2f} (goal >= 0.33: {verdict})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--messages", type=int, default=200_000, help="one-way messages")
    parser.add_argument("--round-trips", type=int, default=50_000, help="ask round trips")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure; best is kept")
    args = parser.parse_args()
    report(
        f"tell throughput ({args.messages:,} messages)",
        "asyncio.Queue one-way",
        best_rate(queue_one_way, args.messages, args.repeat),
        best_rate(actor_tell, args.messages, args.repeat),
    )
    report(
        f"ask round trips ({args.round_trips:,} round trips)",
        "asyncio.Queue ping-pong",
        best_rate(queue_ping_pong, args.round_trips, args.repeat),
        best_rate(actor_ask, args.round_trips, args.repeat),
    )


if __name__ == "__main__":
    main()
