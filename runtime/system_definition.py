"""A generated system as data: its declarations, and the one call that builds it.

A generated package declares its aggregates, gateways, supervision tree, sagas and saga
inputs, and binds them in one :class:`SystemDefinition` named ``build_system``; the
machinery (opening the store, wiring actors, the orchestrator, fault injection) is here,
the same for every system::

    async with build_system("sqlite:///state.db") as system:
        await system.run_saga("create_order", {...})
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sagacrew.runtime._workload import sample_inputs
from sagacrew.runtime.aggregate import AggregateActor
from sagacrew.runtime.alerts import AlertSink
from sagacrew.runtime.externals.sandbox import SandboxGateway
from sagacrew.runtime.metrics import RuntimeMetrics
from sagacrew.runtime.saga import Alert, FaultInjector, SagaDefinition, SeededFaults
from sagacrew.runtime.store import Store, open_store
from sagacrew.runtime.system import SagaSystem, SupervisorPlan

S = TypeVar("S", bound=SagaSystem)


@dataclass(frozen=True)
class SystemDefinition:
    """A system's declarations; call it with a store URL to get a :class:`SagaSystem`.

    ``saga_inputs``: each saga's input fields and their types (what ``run_saga`` takes).
    """

    name: str
    aggregates: tuple[type[AggregateActor], ...]
    gateways: tuple[type[SandboxGateway], ...]
    supervision: SupervisorPlan
    sagas: tuple[SagaDefinition, ...]
    saga_inputs: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    earlier_sagas: Sequence[SagaDefinition] = ()
    """Earlier versions of the sagas, kept for the sagas that started on them."""

    def __call__(
        self,
        store_url: str = "sqlite://:memory:",
        *,
        faults: FaultInjector | None = None,
        duplicate_delivery_rate: float = 0.0,
        lost_reply_rate: float = 0.0,
        late_completion_rate: float = 0.0,
        metrics: RuntimeMetrics | None = None,
        on_alert: Callable[[Alert], None] | None = None,
        alert_sinks: Sequence[AlertSink] = (),
    ) -> SagaSystem:
        """The system on the store at ``store_url`` (SQLite or PostgreSQL).

        ``faults`` injects failures (tests, fault-injection runs), and so do the rates of
        duplicate deliveries, lost replies and late completion events; ``metrics``
        collects the Prometheus metrics; ``on_alert`` and ``alert_sinks`` hear of what an
        operator must act on (see :class:`SagaSystem`).
        """
        return self.build(
            SagaSystem,
            open_store(store_url),
            faults=faults,
            duplicate_delivery_rate=duplicate_delivery_rate,
            lost_reply_rate=lost_reply_rate,
            late_completion_rate=late_completion_rate,
            metrics=metrics,
            on_alert=on_alert,
            alert_sinks=alert_sinks,
        )

    def build(self, system_class: type[S], store: Store, **options: Any) -> S:
        """A ``system_class`` (:class:`SagaSystem` or a subclass) on ``store``, wired from
        these declarations; ``options`` go to its constructor (see :meth:`__call__`)."""
        return system_class(
            name=self.name,
            store=store,
            aggregates=self.aggregates,
            gateways=self.gateways,
            supervision=self.supervision,
            sagas=self.sagas,
            earlier_sagas=self.earlier_sagas,
            **options,
        )

    def saga(self, name: str) -> SagaDefinition:
        """The saga named ``name``; ``KeyError`` naming the known ones otherwise."""
        for definition in self.sagas:
            if definition.name == name:
                return definition
        raise KeyError(f"{self.name} has no saga {name!r}; known: {[s.name for s in self.sagas]}")

    def sample_inputs(self, saga: str, index: int, run: str = "") -> dict[str, Any]:
        """Input for saga ``index`` of ``saga`` (see :func:`~sagacrew.runtime.sample_inputs`)."""
        return sample_inputs(self.saga_inputs[saga], saga, index, run)


def workload_faults(workload: Mapping[str, Any]) -> SeededFaults:
    """The blueprint's workload plan (``blueprint["validation"]["workload"]``, also in
    ``validation/fault_plan.json``) as an injector: business refusals fall on steps up to
    each saga's pivot, and every decision is a hash of the seed and the saga id, so a
    recovered saga meets the same faults."""
    return SeededFaults(
        seed=int(workload["seed"]),
        step_failure_rate=float(workload["step_failure_rate"]),
        business_failure_rate=float(workload["business_failure_rate"]),
        compensation_failure_rate=float(workload["compensation_failure_rate"]),
    )
