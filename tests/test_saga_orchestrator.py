"""The durable saga orchestrator: forward runs, retries, compensation, waiting, redrive."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from collections.abc import Mapping
from typing import Any

import pytest
from async_helpers import async_test
from saga_fakes import Harness
from saga_fakes import ObservedStore
from saga_fakes import attempts
from saga_fakes import do
from saga_fakes import observed_store
from saga_fakes import undo

from sagacrew.runtime.saga import RetryPolicy
from sagacrew.runtime.saga import SagaDefinition
from sagacrew.runtime.saga import SagaOrchestrator
from sagacrew.runtime.saga import SagaPaused
from sagacrew.runtime.saga import SagaState
from sagacrew.runtime.saga import SagaStep
from sagacrew.runtime.saga import SeededFaults
from sagacrew.runtime.saga import StepContext
from sagacrew.runtime.saga import UnknownSagaError
from sagacrew.runtime.saga import transition_id

FAST = RetryPolicy(max_attempts=3, initial_backoff_s=0.1, backoff_multiplier=2.0, jitter=0.0)


def step(name: str, *, compensate: bool = True, **options: Any) -> SagaStep:
    return SagaStep(
        name=name,
        action=do(name),
        compensation=undo(name) if compensate else None,
        retry=options.pop("retry", FAST),
        **options,
    )


def five_steps(**pivot_options: Any) -> SagaDefinition:
    """a, b, c compensatable; d the pivot; e after the pivot."""
    return SagaDefinition(
        name="order",
        steps=[
            step("a"),
            step("b"),
            step("c"),
            step("d", compensate=False, pivot=True, **pivot_options),
            step("e", compensate=False),
        ],
        deadline_s=30.0,
        compensation_retry=FAST,
    )


@pytest.fixture
def store(store_url: str) -> Iterator[ObservedStore]:
    """Every test runs on SQLite and on PostgreSQL (``store_url`` in conftest)."""
    observed = observed_store(store_url)
    yield observed
    observed.close()


def harness(store: ObservedStore, *definitions: SagaDefinition) -> Harness:
    return Harness(store, definitions or (five_steps(),))


@pytest.fixture
def h(store: ObservedStore) -> Harness:
    """A harness running the five-step ``order`` saga over the store of each backend."""
    return harness(store)


@pytest.fixture
def train(store: ObservedStore) -> Harness:
    """A harness running the ``train`` saga (:func:`waiting_definition`) over the store of
    each backend."""
    return harness(store, waiting_definition())


@async_test
async def test_all_steps_succeed_and_the_saga_completes_with_merged_data(
    store: ObservedStore,
) -> None:
    h = harness(store)
    result = await h.orchestrator.run("order", {"order_id": "o-1"}, correlation_id="corr-1")
    assert result.state is SagaState.COMPLETED
    assert (result.steps_completed, result.steps_total, result.error) == (5, 5, None)
    assert result.data["order_id"] == "o-1"
    assert all(result.data[f"{name}_done"] for name in "abcde")
    assert h.service.done() == ["a", "b", "c", "d", "e"]
    assert set(h.service.effects.values()) == {1}
    log = h.log(result.saga_id)
    assert [(name, status) for name, _, status, _ in log] == [
        (name, status) for name in "abcde" for status in ("started", "succeeded")
    ]
    row = store.get_saga(result.saga_id)
    assert row is not None and row.state == "completed" and row.ended_at is not None
    assert h.orchestrator.metrics.completed == 1
    assert h.orchestrator.metrics.started == 1


@async_test
async def test_every_step_row_and_envelope_carries_correlation_and_causation(
    store: ObservedStore,
) -> None:
    h = harness(store)
    result = await h.orchestrator.run("order", {}, correlation_id="corr-9", causation_id="m-0")
    rows = store.step_log(result.saga_id)
    assert {row.correlation_id for row in rows} == {"corr-9"}
    for row in rows:
        assert row.causation_id == transition_id(row.idempotency_key)
        assert row.idempotency_key == f"{result.saga_id}:{row.step_index}:forward:1"
    for envelope in h.service.envelopes:
        assert envelope.correlation_id == "corr-9"
        assert envelope.idempotency_key is not None
        # the command carries the step's key (the same on every attempt); its cause is
        # the transition of the attempt that sent it
        assert envelope.causation_id == transition_id(f"{envelope.idempotency_key}:1")
    saga = store.get_saga(result.saga_id)
    assert saga is not None and saga.causation_id == "m-0"


@async_test
async def test_business_failure_before_pivot_compensates_succeeded_steps_in_reverse_order(
    h: Harness,
) -> None:
    h.faults.plan[("c", "forward", 1)] = "business"
    result = await h.orchestrator.run("order", {})
    assert result.state is SagaState.COMPENSATED
    assert h.service.compensated() == ["b", "a"]
    assert ("c", "forward", 2) not in h.faults.calls, "a business refusal is not retried"
    assert result.error is not None and "business refusal" in result.error
    assert h.log(result.saga_id)[-4:] == [
        ("b", "compensation", "started", 1),
        ("b", "compensation", "succeeded", 1),
        ("a", "compensation", "started", 1),
        ("a", "compensation", "succeeded", 1),
    ]
    assert h.orchestrator.metrics.compensated == 1


@async_test
async def test_pivot_failure_exhausts_attempts_then_compensates(h: Harness) -> None:
    h.faults.always.add(("d", "forward"))
    result = await h.orchestrator.run("order", {})
    assert result.state is SagaState.COMPENSATED
    assert [c for c in h.faults.calls if c[0] == "d"] == [("d", "forward", n) for n in (1, 2, 3)]
    assert h.service.compensated() == ["c", "b", "a"]
    assert result.error is not None and "3 attempts exhausted" in result.error
    assert "e" not in h.service.done()


@async_test
async def test_transient_failures_are_retried_with_exponential_backoff(h: Harness) -> None:
    h.faults.plan[("b", "forward", 1)] = "transient"
    h.faults.plan[("b", "forward", 2)] = "transient"
    result = await h.orchestrator.run("order", {})
    assert result.state is SagaState.COMPLETED
    assert h.clock.sleeps == [pytest.approx(0.1), pytest.approx(0.2)]
    assert h.log(result.saga_id, "b") == attempts("b", "forward", "failed", "failed", "succeeded")
    assert h.service.effects[("svc", "do", result.saga_id, "b")] == 1
    assert h.orchestrator.metrics.retries == 2


@async_test
async def test_failure_after_pivot_is_retried_beyond_max_attempts_until_success(h: Harness) -> None:
    for attempt in range(1, 6):
        h.faults.plan[("e", "forward", attempt)] = "transient"
    result = await h.orchestrator.run("order", {})
    assert result.state is SagaState.COMPLETED
    assert ("e", "forward", 6) in h.faults.calls
    assert h.service.compensated() == []
    assert max(h.clock.sleeps) <= FAST.max_backoff_s


@async_test
async def test_failure_after_pivot_past_the_deadline_stalls_and_alerts_without_compensation(
    store: ObservedStore,
) -> None:
    h = harness(store)
    h.faults.always.add(("e", "forward"))
    result = await h.orchestrator.run("order", {})
    assert result.state is SagaState.STALLED
    assert h.service.compensated() == []
    assert [alert.kind for alert in h.alerts] == ["stalled"]
    assert h.alerts[0].step_name == "e"
    assert h.alerts[0].correlation_id == store.get_saga(result.saga_id).correlation_id  # type: ignore[union-attr]
    assert h.clock.now <= 1_000.0 + 30.0
    assert h.orchestrator.metrics.stalled == 1
    assert h.orchestrator.status(result.saga_id).current_step is None


@async_test
async def test_business_refusal_after_pivot_stalls_at_once(h: Harness) -> None:
    h.faults.plan[("e", "forward", 1)] = "business"
    result = await h.orchestrator.run("order", {})
    assert result.state is SagaState.STALLED
    assert [c for c in h.faults.calls if c[0] == "e"] == [("e", "forward", 1)]


@async_test
async def test_deadline_before_the_pivot_compensates(store: ObservedStore) -> None:
    slow = RetryPolicy(max_attempts=100, initial_backoff_s=10.0, jitter=0.0, max_backoff_s=10.0)
    definition = SagaDefinition(
        "short", [step("a"), step("b", retry=slow)], deadline_s=25.0, compensation_retry=FAST
    )
    h = harness(store, definition)
    h.faults.always.add(("b", "forward"))
    result = await h.orchestrator.run("short", {})
    assert result.state is SagaState.COMPENSATED
    assert result.error is not None and "deadline" in result.error
    assert h.clock.sleeps == [10.0, 10.0]
    assert h.service.compensated() == ["a"]


@async_test
async def test_step_timeout_counts_as_failure_and_compensates(store: ObservedStore) -> None:
    never = asyncio.Event

    async def hang(ctx: StepContext) -> Mapping[str, Any]:
        await never().wait()
        return {}

    definition = SagaDefinition(
        "timeouts",
        [
            step("a"),
            SagaStep("b", hang, undo("b"), timeout_s=0.01, retry=RetryPolicy(max_attempts=2)),
        ],
        compensation_retry=FAST,
    )
    h = harness(store, definition)
    result = await h.orchestrator.run("timeouts", {})
    assert result.state is SagaState.COMPENSATED
    assert result.error is not None and "timed out after 0.01 s" in result.error
    assert h.log(result.saga_id, "b") == [
        *attempts("b", "forward", "failed", "failed"),
        *attempts("b", "compensation", "succeeded"),
    ], "a timed-out step may have acted: it is compensated too, first"
    assert h.service.compensated() == ["a"], "b never acted: its undo was a no-op"


@async_test
async def test_unexpected_exception_in_an_action_is_retried_as_transient(
    store: ObservedStore,
) -> None:
    calls = []

    async def flaky(ctx: StepContext) -> Mapping[str, Any]:
        calls.append(ctx.attempt)
        if ctx.attempt == 1:
            raise ConnectionError("service restarting")
        return {"ok": True}

    h = harness(store, SagaDefinition("flaky", [SagaStep("a", flaky, undo("a"), retry=FAST)]))
    result = await h.orchestrator.run("flaky", {})
    assert result.state is SagaState.COMPLETED
    assert calls == [1, 2]
    rows = store.step_log(result.saga_id)
    assert rows[1].error == "ConnectionError: service restarting"


def waiting_definition(timeout_s: float = 5.0, attempts: int = 1) -> SagaDefinition:
    return SagaDefinition(
        "train",
        [
            step("reserve"),
            SagaStep(
                "dispatch",
                do("dispatch"),
                undo("dispatch"),
                timeout_s=timeout_s,
                retry=RetryPolicy(max_attempts=attempts, jitter=0.0),
                completion_event="ml.job.finished",
            ),
            step("register", compensate=False, pivot=True),
        ],
        compensation_retry=FAST,
    )


def is_waiting(transition: Any) -> bool:
    return transition.step is not None and transition.step.status == "waiting"


async def start_until_waiting(h: Harness, correlation_id: str | None = None) -> str:
    """Start a ``train`` saga; its id once its ``dispatch`` step waits for the event."""
    waiting = h.store.when(is_waiting)
    saga_id = await h.orchestrator.start("train", {}, correlation_id=correlation_id)
    await waiting.wait()
    return saga_id


@async_test
async def test_completion_event_delivered_while_waiting_completes_the_step(train: Harness) -> None:
    saga_id = await start_until_waiting(train, "job-1")
    status = train.orchestrator.status(saga_id)
    assert (status.state, status.current_step) == (SagaState.WAITING, "dispatch")
    assert status.summary == "1 of 3 steps complete"
    assert await train.orchestrator.deliver("ml.job.other", "job-1", {}) is False
    assert await train.orchestrator.deliver("ml.job.finished", "job-1", {"model": "m-7"}) is True
    result = await train.orchestrator.wait(saga_id)
    assert result.state is SagaState.COMPLETED
    assert result.data["model"] == "m-7"
    succeeded = [r for r in train.store.step_log(saga_id) if r.step_name == "dispatch"][-1]
    assert succeeded.status == "succeeded"
    assert succeeded.result is not None and succeeded.result["model"] == "m-7"
    assert succeeded.result["dispatch_done"] is True


@async_test
async def test_a_steps_latency_leaves_out_its_wait_for_the_completion_event(train: Harness) -> None:
    saga_id = await start_until_waiting(train, "job-9")
    await asyncio.sleep(0.01)  # the saga waits for the event
    train.clock.now += 0.3  # the external system's own work
    assert await train.orchestrator.deliver("ml.job.finished", "job-9", {"model": "m-9"}) is True
    result = await train.orchestrator.wait(saga_id)
    assert result.state is SagaState.COMPLETED
    succeeded = [r for r in train.store.step_log(saga_id) if r.step_name == "dispatch"][-1]
    assert succeeded.ended_at is not None and succeeded.latency_ms is not None
    assert succeeded.ended_at - succeeded.started_at == pytest.approx(0.3)
    assert succeeded.latency_ms == 0, "the 0.3 s wait is the external system's"


@async_test
async def test_completion_event_arriving_before_the_action_returns_is_kept(train: Harness) -> None:

    async def deliver_early(target: str, envelope: Any) -> None:
        if envelope.payload.get("step") == "dispatch" and envelope.name == "do":
            assert await train.orchestrator.deliver("ml.job.finished", "job-2", {"model": "m-1"})

    train.service.after_effect = deliver_early
    result = await train.orchestrator.run("train", {}, correlation_id="job-2")
    assert result.state is SagaState.COMPLETED
    assert result.data["model"] == "m-1"


@async_test
async def test_completion_never_delivered_times_out_and_compensates(store: ObservedStore) -> None:
    h = harness(store, waiting_definition(timeout_s=0.02))
    result = await h.orchestrator.run("train", {}, correlation_id="job-3")
    assert result.state is SagaState.COMPENSATED
    assert result.error is not None and "'ml.job.finished'" in result.error
    assert "not delivered within 0.02 s" in result.error
    assert h.service.compensated() == ["dispatch", "reserve"], (
        "the dispatch acted (its work may finish): it is undone too, first"
    )
    assert await h.orchestrator.deliver("ml.job.finished", "job-3", {}) is False
    assert h.service.compensated() == ["dispatch", "reserve"], "undone once, not twice"


def test_delivery_after_a_restart_resumes_the_waiting_saga(store: ObservedStore) -> None:
    h = harness(store, waiting_definition())

    async def first_process() -> str:
        saga_id = await start_until_waiting(h, "job-4")
        await h.orchestrator.close()
        return saga_id

    saga_id = asyncio.run(first_process())
    assert h.orchestrator.status(saga_id).state is SagaState.WAITING

    async def second_process() -> None:
        orchestrator = h.new_orchestrator()
        assert await orchestrator.deliver("ml.job.finished", "job-4", {"model": "m-2"}) is True
        result = await orchestrator.wait(saga_id)
        assert result.state is SagaState.COMPLETED
        assert result.data["model"] == "m-2"
        assert h.service.effects[("svc", "do", saga_id, "dispatch")] == 1

    asyncio.run(second_process())


@async_test
async def test_failed_compensation_is_dead_lettered_then_redriven_to_compensated(
    store: ObservedStore,
) -> None:
    h = harness(store)
    h.faults.plan[("d", "forward", 1)] = "business"
    h.faults.always.add(("b", "compensation"))
    result = await h.orchestrator.run("order", {})
    assert result.state is SagaState.COMPENSATION_FAILED
    assert [c for c in h.faults.calls if c[1] == "compensation" and c[0] == "b"] == [
        ("b", "compensation", n) for n in (1, 2, 3)
    ]
    assert h.service.compensated() == ["c", "a"], "the other steps are still compensated"
    (letter,) = h.orchestrator.list_dead_letters()
    assert (letter.step_name, letter.attempts, letter.status) == ("b", 3, "parked")
    assert letter.payload["step_result"]["b_done"] is True
    assert letter.correlation_id == store.get_saga(result.saga_id).correlation_id  # type: ignore[union-attr]
    assert [(a.kind, a.step_name, a.dead_letter_id) for a in h.alerts] == [
        ("compensation_failed", "b", letter.id)
    ]
    assert h.orchestrator.metrics.dead_lettered == 1
    assert h.orchestrator.metrics.compensation_failed == 1

    h.faults.always.clear()
    assert letter.id is not None
    redriven = await h.orchestrator.redrive(letter.id)
    assert redriven.state is SagaState.COMPENSATED
    assert h.service.compensated() == ["c", "a", "b"]
    after = store.get_dead_letter(letter.id)
    assert after is not None and (after.status, after.attempts) == ("redriven", 4)
    last = store.step_log(result.saga_id)[-1]
    assert (last.step_name, last.status, last.attempt) == ("b", "succeeded", 4)
    assert last.idempotency_key.endswith(":1:compensation:4")
    assert h.orchestrator.list_dead_letters() == []
    with pytest.raises(Exception, match="not parked"):
        await h.orchestrator.redrive(letter.id)


@async_test
async def test_redrive_that_fails_again_keeps_the_letter_parked(h: Harness) -> None:
    h.faults.plan[("b", "forward", 1)] = "business"
    h.faults.always.add(("a", "compensation"))
    result = await h.orchestrator.run("order", {})
    (letter,) = h.orchestrator.list_dead_letters()
    assert letter.id is not None
    again = await h.orchestrator.redrive(letter.id)
    assert again.state is SagaState.COMPENSATION_FAILED
    (still,) = h.orchestrator.list_dead_letters()
    assert (still.id, still.attempts, still.status) == (letter.id, 6, "parked")
    assert len(h.alerts) == 2
    assert result.saga_id == again.saga_id


def test_interrupted_step_is_re_executed_with_the_same_key_after_recover(h: Harness) -> None:
    blocked = asyncio.Event

    async def scenario_first() -> str:
        hold = blocked()
        reached = asyncio.Event()

        async def block_after_c(target: str, envelope: Any) -> None:
            if envelope.payload.get("step") == "c":
                reached.set()
                await hold.wait()

        h.service.after_effect = block_after_c
        saga_id = await h.orchestrator.start("order", {})
        await reached.wait()
        await h.orchestrator.close()
        return saga_id

    saga_id = asyncio.run(scenario_first())
    assert h.log(saga_id)[-1] == ("c", "forward", "started", 1)
    h.service.after_effect = None

    async def scenario_second() -> None:
        result = await h.recover_to_the_end(saga_id)
        assert result.state is SagaState.COMPLETED
        assert h.service.effects[("svc", "do", saga_id, "c")] == 1
        c_rows = [row for row in h.log(saga_id) if row[0] == "c"]
        assert c_rows == [("c", "forward", "started", 1), ("c", "forward", "succeeded", 1)]

    asyncio.run(scenario_second())


@async_test
async def test_recover_refuses_sagas_without_a_definition(train: Harness) -> None:
    await start_until_waiting(train)
    await train.orchestrator.close()
    other = SagaOrchestrator(train.store, [five_steps()], dispatch=train.service.dispatch)
    with pytest.raises(Exception, match="unknown types \\['train'\\]"):
        await other.recover()


@async_test
async def test_pause_refuses_new_sagas_and_drain_waits_for_in_flight(h: Harness) -> None:
    saga_id = await h.orchestrator.start("order", {})
    h.orchestrator.pause()
    with pytest.raises(SagaPaused, match="resume"):
        await h.orchestrator.start("order", {})
    assert await h.orchestrator.drain(timeout_s=5.0) == 0
    assert h.orchestrator.status(saga_id).state is SagaState.COMPLETED
    h.orchestrator.resume()
    assert (await h.orchestrator.run("order", {})).state is SagaState.COMPLETED


@async_test
async def test_starting_an_existing_saga_id_does_not_run_it_twice(h: Harness) -> None:
    first = await h.orchestrator.run("order", {}, saga_id="fixed")
    assert await h.orchestrator.start("order", {}, saga_id="fixed") == "fixed"
    assert (await h.orchestrator.wait("fixed")) == first
    assert h.service.done().count("a") == 1
    with pytest.raises(UnknownSagaError):
        await h.orchestrator.start("nope", {})
    with pytest.raises(UnknownSagaError):
        h.orchestrator.status("missing")


@async_test
async def test_status_reports_progress_of_a_running_saga(train: Harness) -> None:
    saga_id = await start_until_waiting(train, "job-5")
    status = train.orchestrator.status(saga_id)
    assert status.summary == "1 of 3 steps complete"
    assert status.steps_total == 3
    await train.orchestrator.deliver("ml.job.finished", "job-5", {})
    final = await train.orchestrator.wait(saga_id)
    assert train.orchestrator.status(saga_id).summary == "3 of 3 steps complete"
    assert final.state is SagaState.COMPLETED


@async_test
async def test_seeded_faults_workload_ends_every_saga_terminal_with_consistent_counters(
    store: ObservedStore,
) -> None:
    h = harness(store)
    faults = SeededFaults(
        seed=11, step_failure_rate=0.3, business_failure_rate=0.4, compensation_failure_rate=0.2
    )
    orchestrator = SagaOrchestrator(
        store,
        [five_steps()],
        dispatch=h.service.dispatch,
        faults=faults,
        clock=h.clock,
        sleep=h.clock.sleep,
        on_alert=h.alerts.append,
    )
    results = await asyncio.gather(*(orchestrator.run("order", {}) for _ in range(20)))
    assert all(result.state.terminal for result in results)
    states = {result.state for result in results}
    assert SagaState.COMPENSATED in states and SagaState.COMPLETED in states
    m = orchestrator.metrics
    assert m.started == 20
    assert m.completed + m.compensated + m.compensation_failed + m.stalled == 20
    assert m.dead_lettered == len(orchestrator.list_dead_letters())
    assert set(h.service.effects.values()) == {1}


def test_a_transition_id_is_the_uuid5_of_its_key() -> None:
    namespace = uuid.UUID("5a6ac5e0-0000-4000-8000-000000000001")
    keys = [
        f"{saga}:{index}:{phase}:{attempt}"
        for saga in ("s-1", "0" * 32, "é")
        for index in range(4)
        for phase in ("forward", "compensation")
        for attempt in (1, 2)
    ]
    for key in [*keys, "", "x" * 500]:
        assert transition_id(key) == uuid.uuid5(namespace, key).hex
