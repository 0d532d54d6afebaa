"""Actors without supervision trees: tell/ask, timeouts, dead letters, hooks, lookup, observer."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from actor_fakes import Recorder
from async_helpers import async_test

from sagacrew.runtime.actors import Actor
from sagacrew.runtime.actors import ActorInitializationError
from sagacrew.runtime.actors import ActorNotFound
from sagacrew.runtime.actors import ActorRef
from sagacrew.runtime.actors import ActorSystem
from sagacrew.runtime.actors import AskTimeout
from sagacrew.runtime.actors import ChildSpec
from sagacrew.runtime.actors import DeadLetter
from sagacrew.runtime.actors import DeadLetterError
from sagacrew.runtime.actors import InvalidActorName
from sagacrew.runtime.actors import SupervisorSpec
from sagacrew.runtime.actors import WhichChildren


class Echo(Recorder):
    """Replies with the message; keeps what it received; fails on "crash"; stops on "stop"."""

    def __init__(self, events: list[str] | None = None, name: str = "echo") -> None:
        super().__init__(name, events if events is not None else [])
        self.received: list[Any] = []

    async def receive(self, message: Any) -> Any:
        if message == "crash":
            raise RuntimeError("crash")
        if message == "stop":
            self.context.stop()
            return "stopping"
        if message == "received":
            return list(self.received)
        self.received.append(message)
        return message


class Gate(Actor):
    """Blocks in ``receive`` on "block" (setting ``entered``) until ``release`` is set;
    records what happens in ``events``. A test spawns the one instance it made."""

    def __init__(self) -> None:
        self.entered, self.release = asyncio.Event(), asyncio.Event()
        self.events: list[str] = []

    async def post_stop(self) -> None:
        self.events.append("post_stop")

    async def receive(self, message: Any) -> Any:
        if message == "block":
            self.entered.set()
            try:
                await self.release.wait()
            except asyncio.CancelledError:
                self.events.append("cancelled")
                raise
            self.events.append("block done")
        else:
            self.events.append(f"handled {message}")
        return message


@async_test
async def test_tell_delivers_messages_in_order_and_ask_returns_receive_result() -> None:
    system = ActorSystem()
    ref = await system.spawn(Echo, "echo")
    for n in range(3):
        ref.tell(n)
    assert await ref.ask("received") == [0, 1, 2]
    assert await ref.ask("hello") == "hello"
    await system.stop()


@async_test
async def test_ask_raises_ask_timeout_when_no_reply_in_time() -> None:
    gate = Gate()
    system = ActorSystem()
    ref = await system.spawn(lambda: gate, "gate")
    with pytest.raises(AskTimeout) as caught:
        await ref.ask("block", timeout_s=0.02)
    assert caught.value.path == "gate"
    assert caught.value.timeout_s == 0.02
    gate.release.set()
    assert await ref.ask("next") == "next"  # the timed-out message was still handled
    assert gate.events == ["block done", "handled next"]
    await system.stop()


@async_test
async def test_ask_gets_the_exception_receive_raised() -> None:
    system = ActorSystem()
    ref = await system.start(SupervisorSpec(children=[ChildSpec("echo", Echo)]))
    echo = system.lookup("echo")
    with pytest.raises(RuntimeError, match="crash"):
        await echo.ask("crash")
    await ref.ask(WhichChildren())
    assert system.restarts == 1
    assert await echo.ask("received") == []  # a fresh instance after the restart
    await system.stop()


@async_test
async def test_tell_to_stopped_actor_is_a_counted_and_observable_dead_letter() -> None:
    system = ActorSystem()
    seen: list[DeadLetter] = []
    unsubscribe = system.dead_letters.subscribe(seen.append)
    ref = await system.spawn(Echo, "echo")
    await system.stop_actor(ref)
    assert not ref.is_alive()
    ref.tell("lost")
    assert system.dead_letters.count == 1
    assert list(system.dead_letters.items) == [DeadLetter("echo", "lost", "stopped")]
    assert seen == [DeadLetter("echo", "lost", "stopped")]
    unsubscribe()
    ref.tell("lost again")
    assert system.dead_letters.count == 2
    assert len(seen) == 1
    await system.stop()


@async_test
async def test_ask_to_stopped_actor_raises_dead_letter_error() -> None:
    system = ActorSystem()
    ref = await system.spawn(Echo, "echo")
    await system.stop_actor(ref)
    with pytest.raises(DeadLetterError) as caught:
        await ref.ask("anyone?")
    assert caught.value.path == "echo"
    assert system.dead_letters.count == 1


@async_test
async def test_stop_waits_for_the_current_message_then_dead_letters_the_rest() -> None:
    gate = Gate()
    system = ActorSystem()
    ref = await system.spawn(lambda: gate, "gate")
    ref.tell("block")
    ref.tell("late")
    pending_ask = asyncio.ensure_future(ref.ask("late ask"))
    await gate.entered.wait()
    stopping = asyncio.ensure_future(system.stop_actor(ref))
    # The loop runs ready callbacks in FIFO order: the stop request is made before the gate
    # opens, so the stop has to wait for the message in progress.
    asyncio.get_running_loop().call_soon(gate.release.set)
    await stopping
    assert gate.events == ["block done", "post_stop"]
    assert [letter.message for letter in system.dead_letters.items] == ["late", "late ask"]
    with pytest.raises(DeadLetterError):
        await pending_ask


@async_test
async def test_context_stop_ends_the_actor_after_the_current_message() -> None:
    events: list[str] = []
    system = ActorSystem()
    ref = await system.spawn(lambda: Echo(events), "echo")
    ref.tell("stop")
    ref.tell("after")
    with pytest.raises(DeadLetterError):
        await ref.ask("received")
    assert events == ["echo.pre_start", "echo.post_stop"]
    assert [letter.message for letter in system.dead_letters.items] == ["after", "received"]
    assert not ref.is_alive()
    await system.stop()


class Hooks(Recorder):
    """Records every lifecycle hook and message, named by its incarnation (``hooks-1`` ...)."""

    incarnations = 0

    def __init__(self, events: list[str]) -> None:
        Hooks.incarnations += 1
        super().__init__(f"hooks-{Hooks.incarnations}", events)

    async def pre_restart(self, error: BaseException) -> None:
        self.events.append(f"{self.name}.pre_restart {error}")

    async def receive(self, message: Any) -> Any:
        self.events.append(f"{self.name}.receive {message}")
        if message == "crash":
            raise ValueError("boom")
        return message


@async_test
async def test_lifecycle_hooks_run_in_order_across_a_restart() -> None:
    Hooks.incarnations = 0
    events: list[str] = []
    system = ActorSystem()
    root = await system.start(SupervisorSpec(children=[ChildSpec("hooks", lambda: Hooks(events))]))
    hooks = system.lookup("root/hooks")
    await hooks.ask("a")
    with pytest.raises(ValueError):
        await hooks.ask("crash")
    await hooks.ask("b")
    await root.ask(WhichChildren())
    await system.stop()
    assert events == [
        "hooks-1.pre_start",
        "hooks-1.receive a",
        "hooks-1.receive crash",
        "hooks-1.pre_restart boom",
        "hooks-2.pre_start",
        "hooks-2.receive b",
        "hooks-2.post_stop",
    ]


@async_test
async def test_default_pre_restart_calls_post_stop() -> None:
    events: list[str] = []
    system = ActorSystem()
    root = await system.start(SupervisorSpec(children=[ChildSpec("echo", lambda: Echo(events))]))
    with pytest.raises(RuntimeError):
        await system.lookup("echo").ask("crash")
    await root.ask(WhichChildren())
    assert events == ["echo.pre_start", "echo.post_stop", "echo.pre_start"]
    await system.stop()


@async_test
async def test_lookup_by_full_path_or_unique_plain_name() -> None:
    system = ActorSystem()
    spec = SupervisorSpec(
        children=[
            ChildSpec("ordering", SupervisorSpec(children=[ChildSpec("ordering.order", Echo)])),
            ChildSpec("a", SupervisorSpec(children=[ChildSpec("twin", Echo)])),
            ChildSpec("b", SupervisorSpec(children=[ChildSpec("twin", Echo)])),
        ]
    )
    await system.start(spec)
    full = system.lookup("root/ordering/ordering.order")
    assert full.path == "root/ordering/ordering.order"
    assert system.lookup("ordering.order") == full
    assert await full.ask(1) == 1
    with pytest.raises(ActorNotFound, match="ambiguous"):
        system.lookup("twin")
    assert system.lookup("root/b/twin").path == "root/b/twin"
    with pytest.raises(ActorNotFound):
        system.lookup("root/nobody")
    await system.stop()
    with pytest.raises(ActorNotFound):
        system.lookup("ordering.order")


@async_test
async def test_names_must_be_unique_and_without_slash() -> None:
    system = ActorSystem()
    await system.spawn(Echo, "echo")
    with pytest.raises(InvalidActorName):
        await system.spawn(Echo, "echo")
    with pytest.raises(InvalidActorName):
        await system.spawn(Echo, "a/b")
    await system.stop()


@async_test
async def test_observer_is_called_once_per_handled_message_with_its_error() -> None:
    calls: list[tuple[str, Any, float, BaseException | None]] = []

    def observe(path: str, message: Any, elapsed_s: float, error: BaseException | None) -> None:
        calls.append((path, message, elapsed_s, error))

    system = ActorSystem(observer=observe)
    root = await system.start(SupervisorSpec(children=[ChildSpec("echo", Echo)]))
    echo = system.lookup("echo")
    echo.tell("one")
    with pytest.raises(RuntimeError):
        await echo.ask("crash")
    await root.ask(WhichChildren())  # supervisors' own messages are not observed
    await system.stop()
    assert [(path, message) for path, message, _, _ in calls] == [
        ("root/echo", "one"),
        ("root/echo", "crash"),
    ]
    assert all(elapsed_s >= 0 for _, _, elapsed_s, _ in calls)
    assert calls[0][3] is None
    assert isinstance(calls[1][3], RuntimeError)


@async_test
async def test_unsupervised_actor_is_stopped_when_it_fails() -> None:
    events: list[str] = []
    system = ActorSystem()
    ref = await system.spawn(lambda: Echo(events), "echo")
    gone = asyncio.Event()
    system.dead_letters.subscribe(lambda letter: gone.set())
    with pytest.raises(RuntimeError):
        await ref.ask("crash")
    ref.tell("after")  # queued until the actor is reaped, then a dead letter
    await gone.wait()
    assert not ref.is_alive()
    assert events == ["echo.pre_start", "echo.post_stop"]
    assert system.restarts == 0
    assert not system.failed.is_set()
    await system.stop()


@async_test
async def test_start_failure_raises_actor_initialization_error_and_stops_started_siblings() -> None:
    class Broken(Actor):
        async def pre_start(self) -> None:
            raise OSError("no database")

        async def receive(self, message: Any) -> Any:
            return message

    events: list[str] = []
    system = ActorSystem()
    spec = SupervisorSpec(
        children=[
            ChildSpec("a", lambda: Echo(events, "a")),
            ChildSpec("inner", SupervisorSpec(children=[ChildSpec("broken", Broken)])),
            ChildSpec("c", lambda: Echo(events, "c")),
        ]
    )
    with pytest.raises(ActorInitializationError) as caught:
        await system.start(spec)
    assert caught.value.path == "root/inner/broken"
    assert isinstance(caught.value.__cause__, OSError)
    assert events == ["a.pre_start", "a.post_stop"]
    with pytest.raises(ActorNotFound):
        system.lookup("root/a")


class Parent(Actor):
    """Spawns a child on "spawn"; crashes on "crash"."""

    def __init__(self, events: list[str]) -> None:
        self.events = events

    async def post_stop(self) -> None:
        self.events.append("parent.post_stop")

    async def receive(self, message: Any) -> Any:
        if message == "spawn":
            return await self.context.spawn(lambda: Echo(self.events, "kid"), "kid")
        if message == "crash":
            raise RuntimeError("parent crash")
        return [ref.path for ref in self.context.children]


@async_test
async def test_spawned_children_stop_before_their_parent_restarts_or_stops() -> None:
    events: list[str] = []
    system = ActorSystem()
    root = await system.start(
        SupervisorSpec(children=[ChildSpec("parent", lambda: Parent(events))])
    )
    parent = system.lookup("parent")
    kid: ActorRef = await parent.ask("spawn")
    assert kid.path == "root/parent/kid"
    assert await parent.ask("children") == ["root/parent/kid"]
    with pytest.raises(RuntimeError):
        await parent.ask("crash")
    await root.ask(WhichChildren())
    assert not kid.is_alive()
    assert events == ["kid.pre_start", "kid.post_stop", "parent.post_stop"]
    await parent.ask("spawn")
    await system.stop()
    assert events[-2:] == ["kid.post_stop", "parent.post_stop"]


@async_test
async def test_failing_spawned_child_is_stopped_and_its_parent_keeps_running() -> None:
    events: list[str] = []
    system = ActorSystem()
    parent = await system.spawn(lambda: Parent(events), "parent")
    kid: ActorRef = await parent.ask("spawn")
    gone = asyncio.Event()
    system.dead_letters.subscribe(lambda letter: gone.set())
    with pytest.raises(RuntimeError):
        await kid.ask("crash")
    kid.tell("after")
    await gone.wait()
    assert await parent.ask("children") == []
    assert parent.is_alive()
    await system.stop()


@async_test
async def test_ref_reaches_the_new_actor_after_its_subtree_is_restarted() -> None:
    class Flaky(Actor):
        async def receive(self, message: Any) -> Any:
            if message == "crash":
                raise RuntimeError("crash")
            return message

    system = ActorSystem()
    inner = SupervisorSpec(intensity=0, children=[ChildSpec("leaf", Flaky)])
    root = await system.start(SupervisorSpec(children=[ChildSpec("inner", inner)]))
    leaf = system.lookup("leaf")
    with pytest.raises(RuntimeError):
        await leaf.ask("crash")  # intensity 0: "inner" gives up, "root" restarts it
    inner_ref = system.lookup("root/inner")
    await root.ask(WhichChildren())
    await inner_ref.ask(WhichChildren())
    assert leaf.is_alive()
    assert await leaf.ask("again") == "again"
    await system.stop()


@async_test
async def test_busy_actor_yields_to_other_tasks_after_throughput_messages() -> None:
    class SelfTeller(Actor):
        async def receive(self, message: Any) -> Any:
            self.context.self_ref.tell(message)  # never idle

    system = ActorSystem(throughput=10)
    busy = await system.spawn(SelfTeller, "busy")
    echo = await system.spawn(Echo, "echo")
    busy.tell("spin")
    assert await echo.ask("still served") == "still served"
    await system.stop()
