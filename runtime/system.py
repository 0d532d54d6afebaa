"""A running saga system: store, supervised actors and the durable orchestrator, wired.

A generated package describes its system as data (actor classes, a supervision plan,
saga definitions); :class:`SagaSystem` brings it to life on one asyncio loop:

1. the supervision tree starts, children in order (aggregate actors, gateways);
2. the orchestrator resumes every saga left in flight by an earlier process;
3. saga steps reach actors through :meth:`SagaSystem.dispatch`, which turns an actor's
   :class:`~sagacrew.runtime.aggregate.Rejection` into a business failure of the step;
4. every handled message is written to ``actor_message_log`` with its ids
   (``_message_log``);
5. with ``metrics`` (a :class:`~sagacrew.runtime.metrics.RuntimeMetrics`), the sagas,
   actor restarts and dead letters are counted for Prometheus.

The supervision plan and its conversion to an actor supervisor spec are in
``_supervision``, workloads and their sample input in ``_workload``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeVar, Unpack

from sagacrew.runtime._delivery_faults import DeliveryFaults
from sagacrew.runtime._message_log import MESSAGE_LOG_BACKLOG as MESSAGE_LOG_BACKLOG
from sagacrew.runtime._message_log import MessageLog
from sagacrew.runtime._quarantine import OnQuarantine, QuarantineAlerts
from sagacrew.runtime._supervision import ChildPlan as ChildPlan
from sagacrew.runtime._supervision import RestartType as RestartType
from sagacrew.runtime._supervision import SupervisorPlan as SupervisorPlan
from sagacrew.runtime._supervision import supervisor_spec
from sagacrew.runtime._workload import WorkloadOptions as WorkloadOptions
from sagacrew.runtime._workload import WorkloadReport as WorkloadReport
from sagacrew.runtime._workload import run_workload
from sagacrew.runtime._workload import sample_inputs as sample_inputs
from sagacrew.runtime.actors import Actor, ActorRef, ActorSystem, SupervisorSpec
from sagacrew.runtime.aggregate import AggregateActor, Rejection
from sagacrew.runtime.alerts import AlertSink
from sagacrew.runtime.externals._late import LateCompletions
from sagacrew.runtime.externals.inbound import EventReceipt, InboundEvent, InboundEvents
from sagacrew.runtime.externals.sandbox import SandboxGateway
from sagacrew.runtime.messages import Envelope
from sagacrew.runtime.saga import (
    Alert,
    FaultInjector,
    Lease,
    SagaDefinition,
    SagaOrchestrator,
    SagaResult,
    StepFailed,
)
from sagacrew.runtime.store import Store
from sagacrew.runtime.tracing import SagaTracer, tracer_from_env

if TYPE_CHECKING:
    from sagacrew.runtime.metrics import RuntimeMetrics

_Base = TypeVar("_Base", bound=Actor)

_FIRST_RECHECK_S = 0.05
_LAST_RECHECK_S = 1.0
"""How soon, then how often at most, a command held up by a semantic lock is asked again
when no release in this process woke it (another worker may have released the lock)."""


class SagaSystem:
    """Store + actor system + saga orchestrator of one generated system.

    Fault injection (for tests and ``sagacrew verify``): ``faults`` fails steps on
    purpose; ``duplicate_delivery_rate`` delivers a command twice; ``lost_reply_rate``
    lets an actor act but never answers, so the step times out after the effect;
    ``late_completion_rate`` lets a gateway complete a call's work (``completed`` in the
    ledger) but deliver its completion event ``late_completion_delay_s`` later (default:
    the longest ``timeout_s`` of the steps that wait for a completion event), after the
    waiting step timed out: a retry of the step is answered from the ledger, and after
    the last attempt the saga compensates the step, then undoes the late work exactly
    once when the event comes (``await system.late_completions.delivered()`` waits for
    those events). Every rate defaults to 0 and is decided per idempotency key, so a
    rerun meets the same faults.

    ``metrics`` (default none) is fed by the orchestrator and the actor system while the
    system runs; ``on_alert`` (default none) is called when an operator must act (a
    dead-lettered compensation, a stalled saga; see :class:`~sagacrew.runtime.saga.Alert`).
    Alerts are durable (the store's ``alerts`` table) and delivered at least once to
    ``on_alert`` and to ``alert_sinks`` (default none; see :mod:`sagacrew.runtime.alerts`),
    also after a restart; sinks added to ``alert_sinks`` before :meth:`start` are used.
    """

    def __init__(
        self,
        *,
        name: str,
        store: Store,
        aggregates: Sequence[type[AggregateActor]],
        gateways: Sequence[type[SandboxGateway]],
        supervision: SupervisorPlan,
        sagas: Sequence[SagaDefinition],
        faults: FaultInjector | None = None,
        duplicate_delivery_rate: float = 0.0,
        lost_reply_rate: float = 0.0,
        late_completion_rate: float = 0.0,
        late_completion_delay_s: float | None = None,
        ask_timeout_s: float = 5.0,
        clock: Callable[[], float] = time.time,
        metrics: RuntimeMetrics | None = None,
        on_alert: Callable[[Alert], None] | None = None,
        alert_sinks: Sequence[AlertSink] = (),
        lease: Lease | None = None,
        earlier_sagas: Sequence[SagaDefinition] = (),
    ) -> None:
        self.name = name
        self.store = store
        self.lease = lease
        """With a lease, this system is one worker of several (see :mod:`.worker`)."""
        self.tracer: SagaTracer | None = None
        """OpenTelemetry spans of its sagas, when an OTLP endpoint is configured (see
        :mod:`.tracing`); set by :meth:`start`."""
        if late_completion_delay_s is None:
            late_completion_delay_s = _longest_wait_s(sagas)
        self.late_completions = LateCompletions(
            rate=late_completion_rate, delay_s=late_completion_delay_s
        )
        self._factories: dict[str, Callable[[], Actor]] = {}
        alerts = QuarantineAlerts(self._orchestrator_or_none, clock)
        for aggregate in aggregates:
            self._factories[aggregate.address] = _bind_aggregate(aggregate, store, alerts)
        for gateway in gateways:
            self._factories[gateway.system] = _bind_gateway(
                gateway, store, self._deliver, self.late_completions
            )
        self._plan = supervision
        self._definitions = list(sagas)
        self._earlier = tuple(earlier_sagas)
        self.inbound = InboundEvents(
            store,
            {
                operation.completion_event: (gateway.system, name)
                for gateway in gateways
                for name, operation in gateway.operations.items()
                if operation.completion_event
            },
            self._deliver,
        )
        """Completion events from the external systems (see :meth:`deliver_event`)."""
        self._faults = faults
        self._delivery_faults = DeliveryFaults(duplicate_delivery_rate, lost_reply_rate)
        self._ask_timeout_s = ask_timeout_s
        self._clock = clock
        self.metrics = metrics
        self._on_alert = on_alert
        self.alert_sinks: list[AlertSink] = list(alert_sinks)
        """Where alerts go besides ``on_alert``; wired by :meth:`start`."""
        self._detach_metrics: Callable[[], None] | None = None
        self._message_log = MessageLog(store, clock)
        self.actors = ActorSystem(name, observer=self._message_log.observe)
        self.orchestrator: SagaOrchestrator | None = None
        self.duplicates_delivered = 0
        self.replies_lost = 0
        self.recovered: list[str] = []
        """Ids of the sagas the last ``start()`` found in flight and resumed."""

    # -- lifecycle ----------------------------------------------------------------------

    async def start(self) -> list[str]:
        """Start the supervision tree, then resume sagas in flight; returns their ids."""
        if self.metrics is not None and self._detach_metrics is None:
            self.metrics.declare_sagas(self._definitions)
            self._detach_metrics = self.metrics.observe_actor_system(self.actors)
        await self.actors.start(self._spec(self._plan), name=self._plan.name)
        if self.tracer is None:
            self.tracer = tracer_from_env(self.name)
        self.orchestrator = SagaOrchestrator(
            self.store,
            self._definitions,
            dispatch=self.dispatch,
            faults=self._faults,
            clock=self._clock,
            on_alert=self._on_alert,
            listeners=tuple(
                listener for listener in (self.metrics, self.tracer) if listener is not None
            ),
            alert_sinks=self.alert_sinks,
            lease=self.lease,
            earlier=self._earlier,
        )
        self.recovered = await self.orchestrator.recover()
        return self.recovered

    async def stop(self) -> None:
        """Stop sagas (they resume on the next start), then the actors in reverse order."""
        if self.orchestrator is not None:
            await self.orchestrator.close()
        await self.actors.stop()
        self.flush_message_log()
        if self.tracer is not None:
            self.tracer.shutdown()
            self.tracer = None
        if self._detach_metrics is not None:
            self._detach_metrics()
            self._detach_metrics = None

    async def __aenter__(self) -> SagaSystem:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- sagas --------------------------------------------------------------------------

    async def run_saga(
        self, saga_name: str, data: Mapping[str, Any], *, saga_id: str | None = None
    ) -> SagaResult:
        """Run one saga to a terminal state (``saga_id``: default, a fresh random id)."""
        return await self._orchestrator().run(saga_name, data, saga_id=saga_id)

    async def run_workload(
        self, inputs: Mapping[str, Mapping[str, str]], **options: Unpack[WorkloadOptions]
    ) -> WorkloadReport:
        """Run ``sagas_per_type`` sagas of every type, at most ``concurrency`` at once (see
        :class:`WorkloadOptions`). Input comes from :func:`sample_inputs` (``inputs``:
        saga → field name → type).
        """
        names = [definition.name for definition in self._definitions]
        return await run_workload(self.run_saga, names, inputs, **options)

    async def dispatch(self, target: str, envelope: Envelope) -> Mapping[str, Any]:
        """Deliver a saga step's command to the actor at ``target`` and await its reply.

        A refusal becomes a business failure of the step, except that a command held up
        by another saga's semantic lock on an aggregate that says ``wait`` waits for the
        release (an event, not polling), at most the aggregate's ``lock_timeout_s`` in
        all, and is sent again. A command the actor could not handle because the store
        was unreachable raises :class:`StoreUnavailable` again: the saga pauses."""
        ref = self.actors.lookup(target)
        if self._delivery_faults.duplicates(envelope):
            self.duplicates_delivered += 1
            await ref.ask(envelope, timeout_s=self._ask_timeout_s)
        reply = await ref.ask(envelope, timeout_s=self._ask_timeout_s)
        if self._delivery_faults.loses_reply(envelope):
            # Fault injection: the actor acted but its reply never arrives; the step times
            # out and its retry must be answered from the idempotency record.
            self.replies_lost += 1
            await asyncio.Event().wait()
        if isinstance(reply, Rejection) and reply.released is not None:
            reply = await self._through_the_lock(ref, envelope, reply)
        if isinstance(reply, Rejection):
            if reply.unavailable is not None:
                raise reply.unavailable  # not a refusal: the saga pauses and resumes later
            raise StepFailed(reply.reason, retriable=False)
        return dict(reply)

    async def _through_the_lock(self, ref: ActorRef, envelope: Envelope, reply: Rejection) -> Any:
        """The reply to ``envelope`` once the semantic lock that refused it (``reply``) is
        released, asked again at each release; a :class:`StepFailed` after the aggregate's
        ``lock_timeout_s``. A release in this process sets the refusal's event. One by
        another worker sharing the store cannot, so the command is also asked again at
        growing intervals (0.05 s, doubling up to 1 s): the aggregate then reads the stream
        the other worker moved and finds the lock gone."""
        assert reply.released is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + reply.wait_s
        pause = _FIRST_RECHECK_S
        while isinstance(reply, Rejection) and reply.released is not None:
            left = deadline - loop.time()
            if left <= 0:
                raise StepFailed(
                    f"{reply.reason} (still held after waiting {reply.wait_s:g} s)",
                    retriable=False,
                )
            try:
                await asyncio.wait_for(reply.released.wait(), timeout=min(pause, left))
            except TimeoutError:
                pause = min(pause * 2, _LAST_RECHECK_S)
            reply = await ref.ask(envelope, timeout_s=self._ask_timeout_s)
        return reply

    def _orchestrator_or_none(self) -> SagaOrchestrator | None:
        """The orchestrator once started (quarantine alerts go to it)."""
        return self.orchestrator

    async def deliver_event(
        self,
        name: str,
        *,
        event_id: str,
        payload: Mapping[str, Any],
        correlation_id: str | None = None,
        resource_id: str | None = None,
    ) -> EventReceipt:
        """Deliver an external system's completion event ``name`` (its ``event_id`` makes a
        replay harmless) for the call with ``resource_id`` (what the gateway's call
        returned) or the saga with ``correlation_id``. Raises :class:`InboundError` (status
        400, 404 or 409, message and fix) for an event it refuses; see
        :mod:`sagacrew.runtime.externals.inbound`. The system must be started."""
        self._orchestrator()
        event = InboundEvent(name, event_id, payload, correlation_id, resource_id)
        return await self.inbound.receive(event)

    async def _deliver(self, event: str, correlation_id: str, payload: Mapping[str, Any]) -> bool:
        return await self._orchestrator().deliver(event, correlation_id, payload)

    def _orchestrator(self) -> SagaOrchestrator:
        if self.orchestrator is None:
            raise RuntimeError(f"{self.name} is not started: call `await system.start()` first")
        return self.orchestrator

    # -- wiring -------------------------------------------------------------------------

    @property
    def supervision_plan(self) -> SupervisorPlan:
        """The generated supervision tree this system starts."""
        return self._plan

    def supervisor_spec(self) -> SupervisorSpec:
        """A fresh :class:`SupervisorSpec` of the tree (new actor factories), to (re)start it."""
        return self._spec(self._plan)

    def aggregate_prototypes(self) -> list[AggregateActor]:
        """One fresh, unstarted instance of each aggregate actor type, bound to the store,
        to replay streams exactly as a (re)started actor does."""
        made = (factory() for factory in self._factories.values())
        return [actor for actor in made if isinstance(actor, AggregateActor)]

    def _spec(self, plan: SupervisorPlan) -> SupervisorSpec:
        """A fresh spec of ``plan`` with this system's actor factories."""
        return supervisor_spec(plan, self._factories)

    def flush_message_log(self) -> None:
        """Write the logged messages not yet written (see :class:`MessageLog`).

        Rows leave the buffer only once written: when the store fails (e.g. it is
        unreachable), they stay and go with the next flush (at most
        ``MESSAGE_LOG_BACKLOG`` rows are kept; older ones are counted in
        ``message_log_dropped`` and logged)."""
        self._message_log.flush()

    @property
    def message_log_dropped(self) -> int:
        """Message-log rows dropped because the store stayed unwritable (see flush)."""
        return self._message_log.dropped


def _bind_aggregate(
    cls: type[AggregateActor], store: Store, on_quarantine: OnQuarantine
) -> Callable[[], Actor]:
    def make() -> Actor:
        actor = cls(store)
        actor.quarantine.notify = on_quarantine
        return actor

    return make


def _bind_gateway(
    cls: type[SandboxGateway],
    store: Store,
    deliver: Callable[..., Any],
    late_completions: LateCompletions,
) -> Callable[[], Actor]:
    return lambda: cls(store, deliver, late_completions=late_completions)


def _longest_wait_s(sagas: Sequence[SagaDefinition]) -> float:
    """The longest ``timeout_s`` of a step waiting for a completion event (1.0 if none)."""
    waits = [s.attempt_timeout_s for saga in sagas for s in saga.steps if s.completion_event]
    return max(waits, default=1.0)


def overrides(module: ModuleType, bases: Sequence[type[_Base]]) -> tuple[type[_Base], ...]:
    """Each ``XBase`` of ``bases``, replaced by ``module.X`` when that subclasses it.

    This is the generation gap: generated bases live in files sagacrew rewrites, the
    user's subclasses in a module it never touches.
    """
    chosen = []
    for base in bases:
        user = getattr(module, base.__name__.removesuffix("Base"), None)
        chosen.append(user if isinstance(user, type) and issubclass(user, base) else base)
    return tuple(chosen)
