"""Test doubles for saga tests: a deduplicating fake service, a fake clock, scripted faults,
a store that lets a test wait on a persisted transition (instead of sleeping), and a
harness running an orchestrator over them."""

from __future__ import annotations

import asyncio
import dataclasses
from collections import Counter
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from sagacrew.runtime.messages import Envelope
from sagacrew.runtime.saga import Alert
from sagacrew.runtime.saga import SagaDefinition
from sagacrew.runtime.saga import SagaOrchestrator
from sagacrew.runtime.saga import SagaResult
from sagacrew.runtime.saga import StepContext
from sagacrew.runtime.saga import StepFailed
from sagacrew.runtime.store import DeadLetter
from sagacrew.runtime.store import ExternalCall
from sagacrew.runtime.store import PostgresStore
from sagacrew.runtime.store import SagaExecution
from sagacrew.runtime.store import SagaTransition
from sagacrew.runtime.store import SqliteStore
from sagacrew.runtime.store import StepLogEntry
from sagacrew.runtime.store import TransitionIds


def saga_row(saga_id: str, state: str, started_at: float, **columns: Any) -> SagaExecution:
    """A ``saga_executions`` row for store tests: an ``order`` saga of 3 steps, at its first
    and none done, with correlation and causation ``c-<saga_id>``, last updated when it
    started and due 60 s later; ``columns`` replace any of these."""
    correlation_id = f"c-{saga_id}"
    row = SagaExecution(
        saga_id=saga_id,
        saga_name="order",
        state=state,
        step_index=0,
        steps_total=3,
        steps_completed=0,
        pivot_index=None,
        data={},
        correlation_id=correlation_id,
        causation_id=correlation_id,
        started_at=started_at,
        updated_at=started_at,
        deadline_at=started_at + 60,
    )
    return dataclasses.replace(row, **columns)


def step_entry(
    saga_id: str,
    index: int,
    step_name: str,
    phase: str,
    status: str,
    attempt: int = 1,
    **columns: Any,
) -> StepLogEntry:
    """A ``saga_step_log`` row for status and check tests: attempt ``attempt`` of a
    compensatable step, keyed ``<saga_id>:<index>:<phase>:<attempt>``, started at 0, with
    correlation and causation ``c-<saga_id>``; ``columns`` set the others (``ended_at``,
    ``error`` ...) or replace these."""
    fields: dict[str, Any] = {"compensatable": True, "started_at": 0.0}
    fields |= {"correlation_id": f"c-{saga_id}", "causation_id": f"c-{saga_id}"}
    return StepLogEntry(
        saga_id=saga_id,
        step_index=index,
        step_name=step_name,
        phase=phase,
        status=status,
        attempt=attempt,
        idempotency_key=f"{saga_id}:{index}:{phase}:{attempt}",
        **(fields | columns),
    )


def attempts(step: str, phase: str, *ends: str) -> list[tuple[str, str, str, int]]:
    """The step log of ``step``'s attempts in ``phase``, as :meth:`Harness.log` lists it:
    per end (``failed``, ``succeeded`` ...) a ``started`` row then that end, numbered from 1."""
    return [
        (step, phase, status, number)
        for number, end in enumerate(ends, 1)
        for status in ("started", end)
    ]


def parked_letter(kind: str, created_at: float, **columns: Any) -> DeadLetter:
    """A parked ``dead_letters`` row for store tests: a ``kind`` ("message" or
    "compensation") letter with an empty payload, one attempt, error ``failed`` and
    correlation and causation ``c``, created and last updated at ``created_at``; ``columns``
    set the others (``target``, ``saga_id`` ...) or replace these."""
    fields: dict[str, Any] = {"payload": {}, "error": "failed", "attempts": 1, "status": "parked"}
    fields |= {"correlation_id": "c", "causation_id": "c", "updated_at": created_at}
    return DeadLetter(kind=kind, created_at=created_at, **(fields | columns))


def external_call(key: str, status: str, **columns: Any) -> ExternalCall:
    """An ``external_calls`` row for store tests: call ``key`` of ``bank.open``, which made
    resource ``r-<key>``, with an empty request and response, correlation and causation
    ``c``, created and last updated at 1.0; ``columns`` replace any of these."""
    row = ExternalCall(key, "bank", "open", f"r-{key}", status, {}, {}, "c", "c", 1.0, 1.0)
    return dataclasses.replace(row, **columns)


class FakeClock:
    """Time that only moves when the orchestrator sleeps (each sleep is recorded)."""

    def __init__(self, start: float = 1_000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, delay_s: float) -> None:
        self.sleeps.append(delay_s)
        self.now += delay_s
        await asyncio.sleep(0)


@dataclass
class FakeService:
    """Handles every command by idempotency key: a redelivered key returns the stored reply
    and applies nothing. ``effects`` counts applied effects per (target, command, saga, step)
    and ``applied`` lists them in order. ``before_effect`` / ``after_effect`` hooks let a
    test fail or block around the effect.

    An undo naming the key it undoes (payload ``undoes``) acts only when that command
    acted and was not undone yet; otherwise it is a no-op answered ``nothing_to_undo``
    (like the sandbox gateway and the aggregates' ``_undo``)."""

    replies: dict[str, dict[str, Any]] = field(default_factory=dict)
    effects: Counter[tuple[str, str, str, str]] = field(default_factory=Counter)
    applied: list[tuple[str, str, str]] = field(default_factory=list)
    envelopes: list[Envelope] = field(default_factory=list)
    refuse: set[tuple[str, str]] = field(default_factory=set)
    after_effect: Callable[[str, Envelope], Any] | None = None
    acted: set[str] = field(default_factory=set)
    undone: set[str] = field(default_factory=set)

    async def dispatch(self, target: str, envelope: Envelope) -> Mapping[str, Any]:
        self.envelopes.append(envelope)
        key = envelope.idempotency_key
        assert key is not None, "saga commands must carry an idempotency key"
        if key in self.replies:
            return self.replies[key]
        step = str(envelope.payload.get("step", "?"))
        saga_id = key.split(":")[0]
        undoes = envelope.payload.get("undoes")
        reply: dict[str, Any]
        if undoes is not None and (undoes not in self.acted or undoes in self.undone):
            reply = {"nothing_to_undo": True}
        elif (target, envelope.name) in self.refuse:
            reply = {"refused": True}
        else:
            self.acted.add(key)
            if undoes is not None:
                self.undone.add(str(undoes))
            self.effects[(target, envelope.name, saga_id, step)] += 1
            self.applied.append((target, envelope.name, step))
            reply = {f"{step}_done": True, f"{step}_key": key}
        self.replies[key] = reply
        if self.after_effect is not None:
            outcome = self.after_effect(target, envelope)
            if asyncio.iscoroutine(outcome):
                await outcome
        return reply

    def compensated(self) -> list[str]:
        """Steps undone, in the order their compensations took effect."""
        return [step for _, command, step in self.applied if command == "undo"]

    def done(self) -> list[str]:
        return [step for _, command, step in self.applied if command == "do"]


def do(step: str, target: str = "svc") -> Callable[[StepContext], Any]:
    """A step action sending ``do`` for ``step``; a refusal becomes a business failure."""

    async def action(ctx: StepContext) -> Mapping[str, Any]:
        reply = await ctx.send(target, "do", {"step": step})
        if reply.get("refused"):
            raise StepFailed(f"{step} refused", retriable=False)
        return reply

    return action


def undo(step: str, target: str = "svc") -> Callable[[StepContext], Any]:
    """A compensation sending ``undo`` for ``step``, naming the forward command's key; it
    gets the step result, or ``{}`` when the step failed (its outcome is unknown)."""

    async def compensation(ctx: StepContext) -> Mapping[str, Any]:
        assert ctx.step_result == {} or ctx.step_result.get(f"{step}_done") is True, (
            "compensation needs the step result"
        )
        return await ctx.send(target, "undo", {"step": step, "undoes": ctx.forward_key})

    return compensation


class ScriptedFaults:
    """Fails chosen attempts: ``plan[(step, phase, attempt)]`` is "transient" or "business";
    ``always[(step, phase)]`` fails every attempt transiently until removed."""

    def __init__(self) -> None:
        self.plan: dict[tuple[str, str, int], str] = {}
        self.always: set[tuple[str, str]] = set()
        self.calls: list[tuple[str, str, int]] = []

    def before(
        self, saga_id: str, saga_name: str, step_name: str, phase: str, attempt: int
    ) -> None:
        self.calls.append((step_name, phase, attempt))
        kind = self.plan.get((step_name, phase, attempt))
        if (step_name, phase) in self.always:
            kind = "transient"
        if kind == "business":
            raise StepFailed(f"{step_name} refused by business rule", retriable=False)
        if kind == "transient":
            raise StepFailed(f"{step_name} transiently unavailable")


class _Observed:
    """Mixin: call ``watchers`` after each persisted saga transition."""

    watchers: list[Callable[[SagaTransition], None]]

    def apply_saga_transition(self, transition: SagaTransition) -> TransitionIds:
        ids: TransitionIds = super().apply_saga_transition(transition)  # type: ignore[misc]
        for watcher in list(self.watchers):
            watcher(transition)
        return ids

    def apply_saga_transitions(self, transitions: Sequence[SagaTransition]) -> list[TransitionIds]:
        ids: list[TransitionIds] = super().apply_saga_transitions(transitions)  # type: ignore[misc]
        for transition in transitions:
            for watcher in list(self.watchers):
                watcher(transition)
        return ids

    def when(self, predicate: Callable[[SagaTransition], bool]) -> asyncio.Event:
        """An event set once a transition matching ``predicate`` is persisted (the store
        writes transitions on its writer thread: the event is set on the loop)."""
        event = asyncio.Event()
        loop = asyncio.get_running_loop()

        def watch(transition: SagaTransition) -> None:
            if predicate(transition) and not loop.is_closed():
                loop.call_soon_threadsafe(event.set)

        self.watchers.append(watch)
        return event


class ObservedSqliteStore(_Observed, SqliteStore):
    def __init__(self, path: str, **options: Any) -> None:
        super().__init__(path, **options)
        self.watchers = []


class ObservedPostgresStore(_Observed, PostgresStore):
    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.watchers = []


ObservedStore = ObservedSqliteStore | ObservedPostgresStore


def observed_store(url: str) -> ObservedStore:
    """An observed store for a ``sqlite://`` or ``postgresql://`` URL (see conftest)."""
    if url.startswith("sqlite://"):
        return ObservedSqliteStore(url.removeprefix("sqlite://"), synchronous="OFF")
    return ObservedPostgresStore(url)


class Harness:
    """An orchestrator over ``store`` running ``definitions``, with a fake clock, scripted
    faults and the alerts it raised; ``dispatch`` defaults to a :class:`FakeService`."""

    def __init__(
        self,
        store: ObservedStore,
        definitions: Sequence[SagaDefinition],
        dispatch: Callable[[str, Envelope], Any] | None = None,
    ) -> None:
        self.store = store
        self.definitions = definitions
        self.clock = FakeClock()
        self.service = FakeService()
        self.faults = ScriptedFaults()
        self.alerts: list[Alert] = []
        self.dispatch = dispatch or self.service.dispatch
        self.orchestrator = self.new_orchestrator()

    def new_orchestrator(self) -> SagaOrchestrator:
        """A fresh orchestrator on the same store, clock, service and faults (a restart)."""
        return SagaOrchestrator(
            self.store,
            self.definitions,
            dispatch=self.dispatch,
            faults=self.faults,
            clock=self.clock,
            sleep=self.clock.sleep,
            on_alert=self.alerts.append,
        )

    async def recover_to_the_end(self, saga_id: str) -> SagaResult:
        """A restart: a new orchestrator (:meth:`new_orchestrator`) recovers ``saga_id``
        alone and drives it to its end; its result, the orchestrator closed."""
        orchestrator = self.new_orchestrator()
        assert await orchestrator.recover() == [saga_id]
        try:
            return await orchestrator.wait(saga_id)
        finally:
            await orchestrator.close()

    def log(self, saga_id: str, step: str | None = None) -> list[tuple[str, str, str, int]]:
        """The saga's step log as (step, phase, status, attempt), of ``step`` only if given."""
        return [
            (row.step_name, row.phase, row.status, row.attempt)
            for row in self.store.step_log(saga_id)
            if step is None or row.step_name == step
        ]
