"""Unknown outcomes: a step that timed out may have acted, so it is undone by the key of its
forward command; a completion that arrives after the saga gave its step up is undone
exactly once; a step that may have acted and cannot be undone stalls the saga.

The orchestrator tests run on SQLite and PostgreSQL; the sandbox tests check the ledger
(``external_calls``) that the gateways keep.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from typing import ClassVar

import pytest
from async_helpers import async_test
from async_helpers import run
from saga_fakes import FakeService
from saga_fakes import Harness
from saga_fakes import ObservedStore
from saga_fakes import do
from saga_fakes import observed_store
from saga_fakes import undo

from sagacrew.runtime.actors import ReplyLater
from sagacrew.runtime.externals.sandbox import GatewayError
from sagacrew.runtime.externals.sandbox import GatewayOperation
from sagacrew.runtime.externals.sandbox import SandboxGateway
from sagacrew.runtime.messages import Envelope
from sagacrew.runtime.saga import RetryPolicy
from sagacrew.runtime.saga import SagaDefinition
from sagacrew.runtime.saga import SagaResult
from sagacrew.runtime.saga import SagaState
from sagacrew.runtime.saga import SagaStep
from sagacrew.runtime.saga import StepAction
from sagacrew.runtime.saga import StepContext
from sagacrew.runtime.store import ExternalCall
from sagacrew.runtime.store import SagaTransition
from sagacrew.runtime.store import Store
from sagacrew.runtime.system import ChildPlan
from sagacrew.runtime.system import SagaSystem
from sagacrew.runtime.system import SupervisorPlan

ONCE = RetryPolicy(max_attempts=1, jitter=0.0)
FAST = RetryPolicy(max_attempts=3, initial_backoff_s=0.1, jitter=0.0)


@pytest.fixture
def store(store_url: str) -> Iterator[ObservedStore]:
    """Every test runs on SQLite and on PostgreSQL (``store_url`` in conftest)."""
    observed = observed_store(store_url)
    yield observed
    observed.close()


def acts_then_hangs(step: str, *, attempts: Sequence[int] = (1, 2, 3)) -> StepAction:
    """An action whose command acts but whose reply never comes (on ``attempts``)."""

    async def action(ctx: StepContext) -> Mapping[str, Any]:
        reply = await ctx.send("svc", "do", {"step": step})
        if ctx.attempt in attempts:
            await asyncio.Event().wait()
        return reply

    return action


def cancel_sagas_when(store: ObservedStore, predicate: Callable[[SagaTransition], bool]) -> None:
    """Stop every saga task right after a transition matching ``predicate`` is persisted,
    as a crash would (nothing after it happens: the store's writer thread hands the stop
    to the loop before the commit's answer)."""
    loop = asyncio.get_running_loop()

    def stop_sagas() -> None:
        for task in asyncio.all_tasks(loop):
            if task.get_name().startswith("saga:"):
                task.cancel()

    def crash(transition: SagaTransition) -> None:
        if predicate(transition):
            loop.call_soon_threadsafe(stop_sagas)

    store.watchers.append(crash)


# --- maybe-done steps are compensated ----------------------------------------------------


@dataclass
class Recorded:
    """A compensation that records what it was given, then sends ``undo``."""

    step: str
    contexts: list[StepContext] = field(default_factory=list)

    async def __call__(self, ctx: StepContext) -> Mapping[str, Any]:
        self.contexts.append(ctx)
        return await undo(self.step)(ctx)  # type: ignore[no-any-return]


def payment(charge_undo: StepAction, charge: StepAction | None = None) -> SagaDefinition:
    """reserve -> charge -> ship (the pivot, no compensation)."""
    return SagaDefinition(
        "payment",
        [
            SagaStep("reserve", do("reserve"), undo("reserve"), retry=FAST),
            SagaStep(
                "charge",
                charge or acts_then_hangs("charge"),
                charge_undo,
                timeout_s=0.02,
                retry=ONCE,
            ),
            SagaStep("ship", do("ship"), pivot=True, retry=FAST),
        ],
        compensation_retry=FAST,
    )


@async_test
async def test_a_step_that_times_out_after_acting_is_compensated_first_with_an_empty_result(
    store: ObservedStore,
) -> None:
    recorded = Recorded("charge")
    h = Harness(store, [payment(recorded)])
    result = await h.orchestrator.run("payment", {})
    assert result.state is SagaState.COMPENSATED
    assert "timed out after 0.02 s" in (result.error or "")
    assert h.service.compensated() == ["charge", "reserve"], "the charge acted: undone"
    [ctx] = recorded.contexts
    assert dict(ctx.step_result) == {}, "its outcome is unknown"
    assert ctx.forward_key == f"{result.saga_id}:1:forward"
    [charge] = [e for e in h.service.envelopes if e.payload == {"step": "charge"}]
    assert charge.idempotency_key == ctx.forward_key, "the undo names the forward command"
    assert h.log(result.saga_id, "charge") == [
        ("charge", "forward", "started", 1),
        ("charge", "forward", "failed", 1),
        ("charge", "compensation", "started", 1),
        ("charge", "compensation", "succeeded", 1),
    ]
    failed = [r for r in store.step_log(result.saga_id) if r.status == "failed"]
    assert [r.result for r in failed] == [{"outcome": "unknown"}]


@async_test
async def test_a_business_refusal_is_a_known_outcome_and_sends_no_undo_of_the_refused_step(
    store: ObservedStore,
) -> None:
    h = Harness(store, [payment(undo("charge", target="bank"), do("charge", target="bank"))])
    h.service.refuse.add(("bank", "do"))
    result = await h.orchestrator.run("payment", {})
    assert result.state is SagaState.COMPENSATED
    assert "business refusal" in (result.error or "")
    assert [e.name for e in h.service.envelopes if e.payload.get("step") == "charge"] == ["do"], (
        "the refused charge did not act: nothing to undo, no undo sent"
    )
    assert [row[1] for row in h.log(result.saga_id, "charge")] == ["forward", "forward"]
    assert h.service.compensated() == ["reserve"]


def test_a_maybe_done_step_is_still_compensated_when_the_saga_recovers_from_a_crash(
    store: ObservedStore,
) -> None:
    recorded = Recorded("charge")
    h = Harness(store, [payment(recorded)])

    async def first_process() -> str:
        cancel_sagas_when(
            store, lambda t: t.update is not None and t.update.state == SagaState.COMPENSATING
        )
        saga_id = await h.orchestrator.start("payment", {})
        assert await h.orchestrator.drain(timeout_s=5.0) == 0, "the crash stopped the saga"
        await h.orchestrator.close()
        return saga_id

    saga_id = run(first_process)
    assert h.orchestrator.status(saga_id).state is SagaState.COMPENSATING
    assert [row for row in h.log(saga_id) if row[1] == "compensation"] == []
    store.watchers.clear()

    async def second_process() -> None:
        result = await h.recover_to_the_end(saga_id)
        assert result.state is SagaState.COMPENSATED
        assert h.service.compensated() == ["charge", "reserve"]
        assert [dict(ctx.step_result) for ctx in recorded.contexts] == [{}]

    run(second_process)


# --- no undo and an unknown outcome: stalled, not dropped ----------------------------------


def pivot_saga(pivot_action: StepAction) -> SagaDefinition:
    """reserve -> ship (the pivot: no compensation, e.g. an external call without undo)."""
    return SagaDefinition(
        "shipping",
        [
            SagaStep("reserve", do("reserve"), undo("reserve"), retry=FAST),
            SagaStep("ship", pivot_action, pivot=True, timeout_s=0.02, retry=FAST),
        ],
        compensation_retry=FAST,
    )


@pytest.mark.parametrize(
    "timed_out",
    [(1, 2, 3), (1,)],
    ids=["every-attempt-timed-out", "first-timed-out-then-transient-failures"],
)
@async_test
async def test_a_pivot_without_undo_that_may_have_acted_stalls_with_an_unknown_outcome_alert(
    store: ObservedStore, timed_out: tuple[int, ...]
) -> None:
    h = Harness(store, [pivot_saga(acts_then_hangs("ship", attempts=timed_out))])
    for attempt in (2, 3):
        if attempt not in timed_out:
            h.faults.plan[("ship", "forward", attempt)] = "transient"
    result = await h.orchestrator.run("shipping", {})
    assert result.state is SagaState.STALLED
    assert h.service.compensated() == [], "the reserve is kept: the ship may have acted"
    assert [row for row in h.log(result.saga_id) if row[1] == "compensation"] == []
    [alert] = h.alerts
    assert (alert.kind, alert.step_name) == ("unknown_outcome", "ship")
    assert result.saga_id in alert.error and "'ship'" in alert.error
    assert "give the operation an undo, or resolve by hand" in alert.error
    assert result.error == alert.error
    assert h.orchestrator.metrics.stalled == 1


@async_test
async def test_a_refused_pivot_without_undo_compensates_the_earlier_steps(
    store: ObservedStore,
) -> None:
    h = Harness(store, [pivot_saga(do("ship"))])
    h.faults.plan[("ship", "forward", 1)] = "business"
    result = await h.orchestrator.run("shipping", {})
    assert result.state is SagaState.COMPENSATED
    assert h.service.compensated() == ["reserve"]
    assert h.alerts == []


# --- late completions ------------------------------------------------------------------


@dataclass
class JobCluster:
    """An external system whose jobs finish later, announced by ``job.finished``. A cancel
    names the job by the key of the command that started it: a running job is cancelled,
    a finished one undone (``undone`` lists those), anything else is left as it is."""

    finish_at_once: bool = False
    jobs: dict[str, str] = field(default_factory=dict)
    undone: list[str] = field(default_factory=list)
    replies: dict[str, dict[str, Any]] = field(default_factory=dict)

    async def dispatch(self, target: str, envelope: Envelope) -> Mapping[str, Any]:
        key = envelope.idempotency_key
        assert key is not None
        if key in self.replies:
            return self.replies[key]
        if envelope.name == "start":
            self.jobs[key] = "finished" if self.finish_at_once else "running"
            reply = {"job": key}
        else:
            job = str(envelope.payload["undoes"])
            if self.jobs.get(job) == "running":
                self.jobs[job] = "cancelled"
            elif self.jobs.get(job) == "finished":
                self.jobs[job] = "undone"
                self.undone.append(job)
            reply = {"status": self.jobs.get(job, "nothing_to_undo")}
        self.replies[key] = reply
        return reply

    def finish_anyway(self, job: str) -> None:
        """The job finishes although it was cancelled (the cancel lost the race)."""
        self.jobs[job] = "finished"


async def start_job(ctx: StepContext) -> Mapping[str, Any]:
    return await ctx.send("cluster", "start", {"model": "m"})


async def cancel_job(ctx: StepContext) -> Mapping[str, Any]:
    return await ctx.send("cluster", "cancel", {"undoes": ctx.forward_key})


def training(cluster: JobCluster, service: FakeService) -> tuple[SagaDefinition, Any]:
    """reserve -> train (waits for ``job.finished``) -> publish (the pivot)."""

    async def dispatch(target: str, envelope: Envelope) -> Mapping[str, Any]:
        if target == "cluster":
            return await cluster.dispatch(target, envelope)
        return await service.dispatch(target, envelope)

    definition = SagaDefinition(
        "train",
        [
            SagaStep("reserve", do("reserve"), undo("reserve"), retry=FAST),
            SagaStep(
                "train",
                start_job,
                cancel_job,
                timeout_s=0.02,
                retry=ONCE,
                completion_event="job.finished",
            ),
            SagaStep("publish", do("publish"), pivot=True, retry=FAST),
        ],
        compensation_retry=FAST,
    )
    return definition, dispatch


def training_harness(
    store: ObservedStore, cluster: JobCluster, service: FakeService | None = None
) -> Harness:
    """A harness running :func:`training` over ``cluster`` and ``service`` (or a fresh one)."""
    definition, dispatch = training(cluster, service or FakeService())
    return Harness(store, [definition], dispatch)


def late_keys(store: Store, saga_id: str) -> list[tuple[str, int, str]]:
    return [
        (row.status, row.attempt, row.idempotency_key.rsplit(":", 2)[1])
        for row in store.step_log(saga_id)
        if row.step_name == "train" and row.phase == "compensation"
    ]


@pytest.mark.parametrize("finished", ["before-the-first-undo", "after-the-first-undo"])
@async_test
async def test_a_late_completion_after_compensation_is_undone_exactly_once(
    store: ObservedStore, finished: str
) -> None:
    cluster = JobCluster(finish_at_once=finished == "before-the-first-undo")
    service = FakeService()
    h = training_harness(store, cluster, service)
    result = await h.orchestrator.run("train", {}, correlation_id="job-1")
    assert result.state is SagaState.COMPENSATED
    job = f"{result.saga_id}:1:forward"
    if finished == "after-the-first-undo":
        assert cluster.jobs[job] == "cancelled"
        cluster.finish_anyway(job)
    for _ in range(2):  # the event, then a redelivery of it
        assert await h.orchestrator.deliver("job.finished", "job-1", {}) is False
    assert cluster.jobs[job] == "undone"
    assert cluster.undone == [job], "one undo acted on the finished work, never two"
    assert late_keys(store, result.saga_id) == [
        ("started", 1, "compensation"),
        ("succeeded", 1, "compensation"),
        ("started", 2, "late_compensation"),
        ("succeeded", 2, "late_compensation"),
    ]
    assert h.orchestrator.status(result.saga_id).state is SagaState.COMPENSATED
    assert h.orchestrator.metrics.compensated == 1, "the saga is not counted twice"


@async_test
async def test_a_late_completion_while_the_saga_is_compensating_is_undone_after_it(
    store: ObservedStore,
) -> None:
    cluster = JobCluster()
    service = FakeService()
    h = training_harness(store, cluster, service)
    undoing, release = asyncio.Event(), asyncio.Event()

    async def hold_the_reserve_undo(target: str, envelope: Envelope) -> None:
        if envelope.name == "undo" and envelope.payload["step"] == "reserve":
            undoing.set()
            await release.wait()

    service.after_effect = hold_the_reserve_undo
    saga_id = await h.orchestrator.start("train", {}, correlation_id="job-2")
    await undoing.wait()
    assert h.orchestrator.status(saga_id).state is SagaState.COMPENSATING
    job = f"{saga_id}:1:forward"
    cluster.finish_anyway(job)
    delivery = asyncio.create_task(h.orchestrator.deliver("job.finished", "job-2", {}))
    release.set()
    assert await delivery is False
    assert (await h.orchestrator.wait(saga_id)).state is SagaState.COMPENSATED
    assert cluster.undone == [job]
    assert [key for _, _, key in late_keys(store, saga_id)][-1] == "late_compensation"


def test_a_late_compensation_interrupted_by_a_crash_is_finished_on_recover(
    store: ObservedStore,
) -> None:
    cluster = JobCluster()
    h = training_harness(store, cluster)

    def late_started(transition: SagaTransition) -> bool:
        step = transition.step
        return step is not None and step.status == "started" and "late_" in step.idempotency_key

    async def first_process() -> str:
        result = await h.orchestrator.run("train", {}, correlation_id="job-3")
        cluster.finish_anyway(f"{result.saga_id}:1:forward")
        cancel_sagas_when(store, late_started)
        assert await h.orchestrator.deliver("job.finished", "job-3", {}) is False
        await h.orchestrator.close()
        return result.saga_id

    saga_id = run(first_process)
    assert h.orchestrator.status(saga_id).state is SagaState.COMPENSATING, "reopened, durably"
    assert cluster.undone == []
    store.watchers.clear()

    async def second_process() -> None:
        assert (await h.recover_to_the_end(saga_id)).state is SagaState.COMPENSATED
        assert cluster.undone == [f"{saga_id}:1:forward"]
        assert late_keys(store, saga_id)[-2:] == [
            ("started", 2, "late_compensation"),
            ("succeeded", 2, "late_compensation"),
        ]

    run(second_process)


@async_test
async def test_a_late_compensation_that_keeps_failing_is_dead_lettered_and_redriven_late(
    store: ObservedStore,
) -> None:
    cluster = JobCluster()
    h = training_harness(store, cluster)
    result = await h.orchestrator.run("train", {}, correlation_id="job-4")
    job = f"{result.saga_id}:1:forward"
    cluster.finish_anyway(job)
    h.faults.always.add(("train", "compensation"))
    assert await h.orchestrator.deliver("job.finished", "job-4", {}) is False
    assert h.orchestrator.status(result.saga_id).state is SagaState.COMPENSATION_FAILED
    assert [alert.kind for alert in h.alerts] == ["compensation_failed"]
    [letter] = h.orchestrator.list_dead_letters()
    assert letter.id is not None and ":late_compensation:" in str(
        letter.payload["last_idempotency_key"]
    )
    h.faults.always.clear()
    redriven = await h.orchestrator.redrive(letter.id)
    assert redriven.state is SagaState.COMPENSATED
    assert cluster.undone == [job]
    assert [(status, n) for status, n, _ in late_keys(store, result.saga_id)] == [
        ("started", 1),
        ("succeeded", 1),
        *[(status, n) for n in (2, 3, 4) for status in ("started", "failed")],
        ("started", 5),
        ("succeeded", 5),
    ], "the late compensation had its own 3 attempts, then the redrive's"
    assert {key for _, n, key in late_keys(store, result.saga_id) if n > 1} == {"late_compensation"}


# --- the sandbox gateway: undo by key ---------------------------------------------------


class Bank(SandboxGateway):
    """A sandbox bank: charges are done at once, transfers settle later by an event."""

    system: ClassVar[str] = "bank"
    completion_delay_s: ClassVar[float] = 0.01
    operations: ClassVar[Mapping[str, GatewayOperation]] = {
        "charge": GatewayOperation(params=("amount",)),
        "refund": GatewayOperation(undoes="charge"),
        "transfer": GatewayOperation(params=("amount",), completion_event="bank.settled"),
        "recall": GatewayOperation(undoes="transfer"),
    }


class SlowBank(Bank):
    """A bank whose transfers never settle while a test runs."""

    completion_delay_s: ClassVar[float] = 600.0


class Deliveries:
    """Records the completion events a gateway delivers."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    async def __call__(self, event: str, correlation_id: str, payload: Mapping[str, Any]) -> bool:
        self.events.append((event, correlation_id))
        return True


def call(name: str, key: str, **payload: Any) -> Envelope:
    return Envelope(name, payload, "corr-1", f"cause-{key}", idempotency_key=key)


def ledger(store: Store) -> dict[str, tuple[str, str]]:
    """Idempotency key -> (operation, status) of every call the bank has seen."""
    calls: list[ExternalCall] = store.list_external_calls(system="bank")
    return {c.idempotency_key: (c.operation, c.status) for c in calls}


async def answered(bank: SandboxGateway, message: Envelope) -> Any:
    """The gateway's answer to ``message``, as an ask gets it (calls are answered later)."""
    reply = await bank.receive(message)
    return await reply.task if isinstance(reply, ReplyLater) else reply


def gateway_test(store: Store, body: Callable[[SandboxGateway], Any]) -> None:
    async def scenario() -> None:
        bank = SlowBank(store, Deliveries())
        try:
            await body(bank)
        finally:
            await bank.post_stop()

    run(scenario)


def test_an_undo_naming_done_work_by_key_undoes_it_once_and_answers_a_repeat_the_same(
    store: ObservedStore,
) -> None:
    async def body(bank: SandboxGateway) -> None:
        charged = await answered(bank, call("charge", "s:0:forward", amount=5))
        first = await answered(bank, call("refund", "s:0:compensation", undoes="s:0:forward"))
        again = await answered(bank, call("refund", "s:0:late", undoes="s:0:forward"))
        assert first == again == {"resource_id": charged["resource_id"], "status": "undone"}
        assert ledger(store)["s:0:forward"] == ("charge", "undone")

    gateway_test(store, body)


def test_an_undo_naming_running_work_by_key_cancels_it(store: ObservedStore) -> None:
    async def body(bank: SandboxGateway) -> None:
        started = await answered(bank, call("transfer", "s:0:forward", amount=5))
        assert started["status"] == "running"
        cancel = await answered(bank, call("recall", "s:0:compensation", undoes="s:0:forward"))
        assert cancel["status"] == "cancelled"
        assert ledger(store)["s:0:forward"] == ("transfer", "cancelled")

    gateway_test(store, body)


def test_an_undo_of_a_call_that_never_arrived_leaves_a_tombstone_so_the_late_call_acts_not(
    store: ObservedStore,
) -> None:
    async def body(bank: SandboxGateway) -> None:
        undo_first = call("recall", "s:0:compensation", undoes="s:0:forward", resource_id="")
        assert await answered(bank, undo_first) == {
            "resource_id": "none",
            "status": "nothing_to_undo",
        }
        assert ledger(store)["s:0:forward"] == ("transfer", "cancelled")
        late = await answered(bank, call("transfer", "s:0:forward", amount=5))
        assert late["status"] == "cancelled", "the late original is answered, not performed"
        assert ledger(store) == {
            "s:0:forward": ("transfer", "cancelled"),
            "s:0:compensation": ("recall", "nothing_to_undo"),
        }

    gateway_test(store, body)


def test_an_undo_without_a_key_still_finds_the_call_by_resource_id(
    store: ObservedStore,
) -> None:
    async def body(bank: SandboxGateway) -> None:
        charged = await answered(bank, call("charge", "s:0:forward", amount=5))
        refund = call("refund", "s:0:compensation", resource_id=charged["resource_id"])
        assert (await answered(bank, refund))["status"] == "undone"
        assert ledger(store)["s:0:forward"] == ("charge", "undone")
        with pytest.raises(GatewayError, match="no charge call made resource bank-nothing"):
            await answered(bank, call("refund", "s:1:compensation", resource_id="bank-nothing"))

    gateway_test(store, body)


# --- a saga system on the sandbox: the ledger after unknown outcomes ------------------------


async def transfer(ctx: StepContext) -> Mapping[str, Any]:
    return await ctx.send("bank", "transfer", {"amount": 5})


async def recall(ctx: StepContext) -> Mapping[str, Any]:
    payload = {"undoes": ctx.forward_key, "resource_id": ctx.step_result.get("resource_id", "")}
    return await ctx.send("bank", "recall", payload)


PAYOUT = SagaDefinition(
    "payout",
    [
        SagaStep(
            "transfer",
            transfer,
            recall,
            timeout_s=0.1,
            retry=ONCE,
            completion_event="bank.settled",
        )
    ],
)


def bank_system(store: Store, bank: type[Bank], **faults: Any) -> SagaSystem:
    return SagaSystem(
        name="payouts",
        store=store,
        aggregates=(),
        gateways=(bank,),
        supervision=SupervisorPlan("root", "one_for_one", 3, 5.0, (ChildPlan("bank"),)),
        sagas=(PAYOUT,),
        **faults,
    )


@async_test
async def test_a_completion_event_not_delivered_in_time_leaves_the_call_cancelled_not_running(
    store: ObservedStore,
) -> None:
    async with bank_system(store, SlowBank) as system:
        result = await system.run_saga("payout", {})
        assert result.state is SagaState.COMPENSATED
        assert ledger(store) == {
            f"{result.saga_id}:0:forward": ("transfer", "cancelled"),
            f"{result.saga_id}:0:compensation": ("recall", "cancelled"),
        }


@async_test
async def test_a_late_completion_event_leaves_exactly_one_effective_undo_in_the_ledger(
    store: ObservedStore,
) -> None:
    system = bank_system(store, Bank, late_completion_rate=1.0, late_completion_delay_s=0.5)
    async with system:
        result = await system.run_saga("payout", {})
        assert result.state is SagaState.COMPENSATED
        forward = f"{result.saga_id}:0:forward"
        assert ledger(store)[forward] == ("transfer", "undone"), "completed, then undone"
        assert system.late_completions.pending == 1
        await system.late_completions.delivered()
        assert ledger(store) == {
            forward: ("transfer", "undone"),
            f"{result.saga_id}:0:compensation": ("recall", "undone"),
            f"{result.saga_id}:0:late_compensation": ("recall", "undone"),
        }, "the late undo found the work undone already: a no-op, answered the same"
        assert late_keys_of(store, result.saga_id) == ["compensation", "late_compensation"]
        assert store.get_saga(result.saga_id).state == SagaState.COMPENSATED  # type: ignore[union-attr]


def late_keys_of(store: Store, saga_id: str) -> list[str]:
    return [
        row.idempotency_key.rsplit(":", 2)[1]
        for row in store.step_log(saga_id)
        if row.phase == "compensation" and row.status == "succeeded"
    ]


# --- what a timeout means, per step (on_timeout) ----------------------------------------


def timing_out(on_timeout: str) -> SagaDefinition:
    """reserve -> charge (times out after acting, 3 attempts allowed) -> ship (pivot)."""
    return SagaDefinition(
        "payment",
        [
            SagaStep("reserve", do("reserve"), undo("reserve"), retry=FAST),
            SagaStep(
                "charge",
                acts_then_hangs("charge"),
                undo("charge"),
                timeout_s=0.02,
                retry=FAST,
                on_timeout=on_timeout,  # type: ignore[arg-type]
            ),
            SagaStep("ship", do("ship"), pivot=True, retry=FAST),
        ],
        compensation_retry=FAST,
    )


async def run_timing_out(store: ObservedStore, on_timeout: str) -> tuple[Harness, SagaResult]:
    """The harness and the result of one ``payment`` saga of :func:`timing_out`."""
    h = Harness(store, [timing_out(on_timeout)])
    return h, await h.orchestrator.run("payment", {})


@async_test
async def test_on_timeout_retry_retries_before_compensating(store: ObservedStore) -> None:
    h, result = await run_timing_out(store, "retry")
    failed = [r for r in h.log(result.saga_id, "charge") if r[2] == "failed"]
    assert len(failed) == 3, "every attempt of the policy was used"
    assert result.state is SagaState.COMPENSATED
    assert h.service.compensated() == ["charge", "reserve"]


@async_test
async def test_on_timeout_compensate_compensates_after_the_first_timeout(
    store: ObservedStore,
) -> None:
    h, result = await run_timing_out(store, "compensate")
    assert [r for r in h.log(result.saga_id, "charge") if r[1] == "forward"] == [
        ("charge", "forward", "started", 1),
        ("charge", "forward", "failed", 1),
    ]
    assert result.state is SagaState.COMPENSATED
    assert "on_timeout: compensate" in (result.error or "")
    assert h.service.compensated() == ["charge", "reserve"], "undone by key: it acted"


@async_test
async def test_on_timeout_stall_neither_retries_nor_compensates_and_alerts(
    store: ObservedStore,
) -> None:
    h, result = await run_timing_out(store, "stall")
    assert result.state is SagaState.STALLED
    assert h.service.compensated() == []
    assert [a.kind for a in h.alerts] == ["unknown_outcome"]
    assert "on_timeout: stall" in h.alerts[0].error
