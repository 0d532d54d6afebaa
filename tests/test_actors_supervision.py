"""OTP supervision: restart types, strategies, intensity/period, shutdown, directives."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from actor_fakes import Recorder
from async_helpers import ManualClock
from async_helpers import async_test
from async_helpers import run

from sagacrew.runtime.actors import Actor
from sagacrew.runtime.actors import ActorError
from sagacrew.runtime.actors import ActorRef
from sagacrew.runtime.actors import ActorSystem
from sagacrew.runtime.actors import ChildSpec
from sagacrew.runtime.actors import DeadLetterError
from sagacrew.runtime.actors import Decider
from sagacrew.runtime.actors import Directive
from sagacrew.runtime.actors import RestartType
from sagacrew.runtime.actors import Strategy
from sagacrew.runtime.actors import SupervisionError
from sagacrew.runtime.actors import SupervisorSpec
from sagacrew.runtime.actors import WhichChildren
from sagacrew.runtime.actors import directives


class Worker(Recorder):
    """Records its lifecycle in a shared list; counts; fails or stops on request."""

    def __init__(self, name: str, events: list[str]) -> None:
        super().__init__(name, events)
        self.count = 0

    async def pre_restart(self, error: BaseException) -> None:
        self.events.append(f"{self.name}.pre_restart")

    async def receive(self, message: Any) -> Any:
        if isinstance(message, BaseException):
            raise message
        if message == "crash":
            raise RuntimeError(f"{self.name} crashed")
        if message == "stop":
            self.context.stop()
            return None
        if message == "count":
            self.count += 1
            return self.count
        return message


def worker(name: str, events: list[str]) -> Callable[[], Actor]:
    return lambda: Worker(name, events)


async def crash(ref: ActorRef, message: Any = "crash") -> None:
    """Make the actor fail, and wait until its failure reached the asker."""
    with pytest.raises(BaseException):  # noqa: B017 - whatever the actor raises
        await ref.ask(message)


def recording(directive: Directive, seen: list[BaseException]) -> Decider:
    """A decider that appends each error to ``seen`` and answers ``directive``."""

    def decide(error: BaseException) -> Directive:
        seen.append(error)
        return directive

    return decide


async def settle(*supervisors: ActorRef) -> None:
    """Wait until each supervisor has handled every exit reported so far (FIFO mailbox)."""
    for supervisor in supervisors:
        await supervisor.ask(WhichChildren())


# -- restart types -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("restart", "abnormal", "restarted"),
    [
        ("permanent", True, True),
        ("permanent", False, True),
        ("transient", True, True),
        ("transient", False, False),
        ("temporary", True, False),
        ("temporary", False, False),
    ],
)
@async_test
async def test_restart_type_decides_whether_an_exited_child_is_restarted(
    restart: RestartType, abnormal: bool, restarted: bool
) -> None:
    events: list[str] = []
    system = ActorSystem()
    spec = SupervisorSpec(children=[ChildSpec("w", worker("w", events), restart=restart)])
    root = await system.start(spec)
    ref = system.lookup("w")
    if abnormal:
        await crash(ref)
    else:
        await ref.ask("stop")
    await settle(root)
    assert ref.is_alive() is restarted
    assert events.count("w.pre_start") == (2 if restarted else 1)
    assert system.restarts == (1 if restarted else 0)
    info = await root.ask(WhichChildren())
    if restart == "temporary":
        assert info == []  # temporary children are forgotten once they exit
    else:
        assert [child.alive for child in info] == [restarted]
    await system.stop()


# -- strategies ------------------------------------------------------------------------------


def three_children(strategy: Strategy, events: list[str]) -> SupervisorSpec:
    return SupervisorSpec(
        strategy=strategy,
        children=[ChildSpec(name, worker(name, events)) for name in ("a", "b", "c")],
    )


async def crash_b_and_record(strategy: Strategy) -> list[str]:
    events: list[str] = []
    system = ActorSystem()
    root = await system.start(three_children(strategy, events))
    assert events == ["a.pre_start", "b.pre_start", "c.pre_start"]
    events.clear()
    await crash(system.lookup("b"))
    await settle(root)
    restart_events = list(events)
    for name in ("a", "b", "c"):
        assert await system.lookup(name).ask(name) == name
    await system.stop()
    return restart_events


@pytest.mark.parametrize(
    ("strategy", "restart_events"),
    [
        pytest.param(
            "one_for_one",
            ["b.pre_restart", "b.pre_start"],
            id="one_for_one_restarts_only_the_failed_child",
        ),
        pytest.param(
            "one_for_all",
            [
                "b.pre_restart",
                "c.post_stop",
                "a.post_stop",
                "a.pre_start",
                "b.pre_start",
                "c.pre_start",
            ],
            id="one_for_all_stops_others_in_reverse_order_then_restarts_all_in_start_order",
        ),
        pytest.param(
            "rest_for_one",
            ["b.pre_restart", "c.post_stop", "b.pre_start", "c.pre_start"],
            id="rest_for_one_restarts_later_siblings_in_start_order",
        ),
    ],
)
def test_strategy_decides_which_children_restart_and_in_what_order(
    strategy: Strategy, restart_events: list[str]
) -> None:
    assert run(crash_b_and_record(strategy)) == restart_events


def a_and_t(restart: RestartType, events: list[str]) -> SupervisorSpec:
    """``one_for_all`` over a permanent worker "a" and a worker "t" restarted as ``restart``."""
    return SupervisorSpec(
        strategy="one_for_all",
        children=[
            ChildSpec("a", worker("a", events)),
            ChildSpec("t", worker("t", events), restart=restart),
        ],
    )


@async_test
async def test_one_for_all_terminates_temporary_siblings_without_restarting_them() -> None:
    events: list[str] = []
    system = ActorSystem()
    root = await system.start(a_and_t("temporary", events))
    events.clear()
    await crash(system.lookup("a"))
    await settle(root)
    assert events == ["a.pre_restart", "t.post_stop", "a.pre_start"]
    assert [child.name for child in await root.ask(WhichChildren())] == ["a"]
    await system.stop()


@async_test
async def test_mailbox_survives_restart_and_messages_sent_meanwhile_are_handled() -> None:
    events: list[str] = []
    system = ActorSystem()
    spec = SupervisorSpec(children=[ChildSpec("w", worker("w", events))])
    root = await system.start(spec)
    ref = system.lookup("w")
    ref.tell("crash")
    ref.tell("count")  # already queued behind the failing message
    assert await ref.ask("count") == 2  # handled by the new instance, in order
    await settle(root)
    assert events == ["w.pre_start", "w.pre_restart", "w.pre_start"]
    assert system.dead_letters.count == 0
    await system.stop()


# -- intensity and period ---------------------------------------------------------------------


@async_test
async def test_intensity_exceeded_fails_the_supervisor_and_its_parent_restarts_it() -> None:
    events: list[str] = []
    seen: list[BaseException] = []
    inner = SupervisorSpec(
        intensity=1,
        children=[ChildSpec("x", worker("x", events)), ChildSpec("y", worker("y", events))],
    )
    spec = SupervisorSpec(decider=recording("restart", seen), children=[ChildSpec("inner", inner)])
    system = ActorSystem(clock=ManualClock())
    root = await system.start(spec)
    x = system.lookup("x")
    await crash(x)  # restart 1 of at most 1
    await settle(system.lookup("inner"))
    events.clear()
    await crash(x)  # restart 2 > intensity 1: "inner" gives up
    await settle(system.lookup("root/inner"), root)
    assert len(seen) == 1
    failure = seen[0]
    assert isinstance(failure, SupervisionError)
    assert failure.path == "root/inner"
    assert failure.restart_count == 2
    assert failure.child_path == "root/inner/x"
    assert isinstance(failure.__cause__, RuntimeError)
    # inner stopped its children in reverse order, then root restarted inner afresh
    assert events == ["y.post_stop", "x.post_stop", "x.pre_start", "y.pre_start"]
    assert not system.failed.is_set()
    assert await x.ask("count") == 1
    await system.stop()


@async_test
async def test_intensity_exceeded_at_the_top_marks_the_system_failed() -> None:
    events: list[str] = []
    system = ActorSystem(clock=ManualClock())
    spec = SupervisorSpec(intensity=0, children=[ChildSpec("w", worker("w", events))])
    root = await system.start(spec)
    await crash(system.lookup("w"))
    await system.failed.wait()
    assert isinstance(system.failure, SupervisionError)
    assert system.failure.path == "root"
    assert system.failure.restart_count == 1
    assert not root.is_alive()
    assert events == ["w.pre_start", "w.post_stop"]
    await system.stop()


@async_test
async def test_crashes_spaced_beyond_the_period_do_not_escalate() -> None:
    clock = ManualClock()
    events: list[str] = []
    system = ActorSystem(clock=clock)
    spec = SupervisorSpec(intensity=1, period_s=5.0, children=[ChildSpec("w", worker("w", events))])
    root = await system.start(spec)
    ref = system.lookup("w")
    for _ in range(5):
        await crash(ref)
        await settle(root)
        clock.now += 5.1
    assert system.restarts == 5
    assert not system.failed.is_set()
    assert ref.is_alive()
    await crash(ref)
    await settle(root)
    clock.now += 4.9
    await crash(ref)  # two restarts within 5 s now: 2 > intensity 1
    await system.failed.wait()
    assert system.restarts == 6
    await system.stop()


@async_test
async def test_failing_restart_counts_toward_intensity() -> None:
    class FailsAfterFirstStart(Actor):
        starts = 0

        async def pre_start(self) -> None:
            FailsAfterFirstStart.starts += 1
            if FailsAfterFirstStart.starts > 1:
                raise OSError("dependency down")

        async def receive(self, message: Any) -> Any:
            raise RuntimeError("crash")

    system = ActorSystem(clock=ManualClock())
    spec = SupervisorSpec(intensity=3, children=[ChildSpec("w", FailsAfterFirstStart)])
    await system.start(spec)
    await crash(system.lookup("w"))
    await system.failed.wait()
    assert isinstance(system.failure, SupervisionError)
    assert system.failure.restart_count == 4
    assert isinstance(system.failure.error, OSError)
    assert FailsAfterFirstStart.starts == 4  # the first start plus three failed restarts
    await system.stop()


# -- shutdown --------------------------------------------------------------------------------


class Stuck(Actor):
    """Never finishes "block"; records whether it was cancelled or stopped cleanly."""

    def __init__(self, entered: asyncio.Event, events: list[str]) -> None:
        self.entered = entered
        self.events = events

    async def post_stop(self) -> None:
        self.events.append("stuck.post_stop")

    async def receive(self, message: Any) -> Any:
        self.entered.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.events.append("stuck.cancelled")
            raise


@async_test
async def test_shutdown_timeout_cancels_the_child_and_stop_continues() -> None:
    entered = asyncio.Event()
    events: list[str] = []
    system = ActorSystem()
    spec = SupervisorSpec(
        children=[
            ChildSpec("a", worker("a", events)),
            ChildSpec("stuck", lambda: Stuck(entered, events), shutdown_s=0.02),
            ChildSpec("c", worker("c", events)),
        ]
    )
    await system.start(spec)
    stuck = system.lookup("stuck")
    pending = asyncio.ensure_future(stuck.ask("block"))
    await entered.wait()
    await system.stop()
    assert events == ["a.pre_start", "c.pre_start", "c.post_stop", "stuck.cancelled", "a.post_stop"]
    assert [letter.reason for letter in system.dead_letters.items] == ["cancelled"]
    with pytest.raises(Exception, match="cancelled"):
        await pending


@async_test
async def test_system_stop_stops_every_tree_in_reverse_start_order() -> None:
    events: list[str] = []
    system = ActorSystem()
    inner = SupervisorSpec(
        children=[ChildSpec("x", worker("x", events)), ChildSpec("y", worker("y", events))]
    )
    spec = SupervisorSpec(
        children=[
            ChildSpec("a", worker("a", events)),
            ChildSpec("inner", inner),
            ChildSpec("z", worker("z", events)),
        ]
    )
    await system.start(spec)
    await system.spawn(worker("solo", events), "solo")
    await system.stop()
    started = ["a", "x", "y", "z", "solo"]
    stopped = reversed(started)
    assert events == [f"{n}.pre_start" for n in started] + [f"{n}.post_stop" for n in stopped]


# -- directives --------------------------------------------------------------------------------


@async_test
async def test_resume_keeps_the_instance_and_its_state_and_drops_the_failing_message() -> None:
    events: list[str] = []
    system = ActorSystem()
    spec = SupervisorSpec(
        decider=lambda error: "resume", children=[ChildSpec("w", worker("w", events))]
    )
    await system.start(spec)
    ref = system.lookup("w")
    assert await ref.ask("count") == 1
    await crash(ref)
    assert await ref.ask("count") == 2
    assert events == ["w.pre_start"]
    assert system.restarts == 0
    await system.stop()


@async_test
async def test_decider_chooses_the_directive_by_exception_type() -> None:
    events: list[str] = []
    system = ActorSystem()
    decider = directives({ValueError: "resume", KeyError: "stop"}, default="restart")
    spec = SupervisorSpec(decider=decider, children=[ChildSpec("w", worker("w", events))])
    root = await system.start(spec)
    ref = system.lookup("w")
    assert await ref.ask("count") == 1
    await crash(ref, ValueError("resume me"))
    assert await ref.ask("count") == 2  # resumed: same state
    await crash(ref, RuntimeError("restart me"))
    assert await ref.ask("count") == 1  # restarted: fresh state
    await crash(ref, KeyError("stop me"))
    await settle(root)
    assert not ref.is_alive()  # stopped although permanent
    assert events == ["w.pre_start", "w.pre_restart", "w.pre_start", "w.post_stop"]
    await system.stop()


def test_directives_pick_the_most_specific_exception_class() -> None:
    decide = directives({Exception: "stop", LookupError: "resume", KeyError: "escalate"})
    assert decide(KeyError("k")) == "escalate"
    assert decide(IndexError("i")) == "resume"
    assert decide(ValueError("v")) == "stop"
    assert decide(KeyboardInterrupt()) == "restart"


@async_test
async def test_escalate_fails_the_supervisor_with_the_child_error() -> None:
    events: list[str] = []
    seen: list[BaseException] = []
    inner = SupervisorSpec(
        decider=lambda error: "escalate", children=[ChildSpec("w", worker("w", events))]
    )
    spec = SupervisorSpec(decider=recording("stop", seen), children=[ChildSpec("inner", inner)])
    system = ActorSystem()
    root = await system.start(spec)
    inner_ref = system.lookup("root/inner")
    await crash(system.lookup("w"), LookupError("no such order"))
    with pytest.raises(DeadLetterError):
        await inner_ref.ask(WhichChildren())  # queued behind the escalation: inner stops
    assert [type(error) for error in seen] == [LookupError]
    assert root.is_alive()
    assert await root.ask(WhichChildren()) == []
    assert events == ["w.pre_start", "w.post_stop"]
    await system.stop()


@async_test
async def test_a_decider_that_raises_escalates() -> None:
    def broken_decider(error: BaseException) -> Directive:
        raise AttributeError("bug in decider")

    events: list[str] = []
    system = ActorSystem()
    spec = SupervisorSpec(decider=broken_decider, children=[ChildSpec("w", worker("w", events))])
    await system.start(spec)
    await crash(system.lookup("w"))
    await system.failed.wait()
    assert isinstance(system.failure, RuntimeError)  # the child's error, escalated
    await system.stop()


@async_test
async def test_one_for_all_starts_again_a_transient_sibling_that_had_exited_normally() -> None:
    events: list[str] = []
    system = ActorSystem()
    root = await system.start(a_and_t("transient", events))
    t = system.lookup("t")
    await t.ask("stop")
    await settle(root)
    assert not t.is_alive()
    events.clear()
    await crash(system.lookup("a"))
    await settle(root)
    assert events == ["a.pre_restart", "a.pre_start", "t.pre_start"]
    assert t.is_alive()
    await system.stop()


@async_test
async def test_supervisor_sends_messages_it_does_not_understand_to_dead_letters() -> None:
    system = ActorSystem()
    root = await system.start(SupervisorSpec())
    assert await root.ask("hello") is None
    assert list(system.dead_letters.items) == [("root", "hello", "unhandled")]
    await system.stop()


@async_test
async def test_stop_actor_refuses_supervised_actors() -> None:
    system = ActorSystem()
    await system.start(SupervisorSpec(children=[ChildSpec("w", worker("w", []))]))
    with pytest.raises(ActorError, match="supervised"):
        await system.stop_actor(system.lookup("w"))
    await system.stop()
