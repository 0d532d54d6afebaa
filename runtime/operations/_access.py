"""What operations need of a :class:`~sagacrew.runtime.SagaSystem`'s wiring: its
orchestrator, supervision tree and aggregate actor types, through its public accessors."""

from __future__ import annotations

from sagacrew.runtime.actors import SupervisorSpec
from sagacrew.runtime.aggregate import AggregateActor
from sagacrew.runtime.operations._errors import SystemNotStartedError
from sagacrew.runtime.saga import SagaOrchestrator
from sagacrew.runtime.system import ChildPlan, SagaSystem, SupervisorPlan


def orchestrator_of(system: SagaSystem, operation: str) -> SagaOrchestrator:
    """The system's orchestrator; :class:`SystemNotStartedError` before ``start()`` or
    after ``stop()`` (which closes the orchestrator)."""
    orchestrator = system.orchestrator
    if orchestrator is None or orchestrator.closed:
        raise SystemNotStartedError(system.name, operation)
    return orchestrator


def supervision_plan(system: SagaSystem) -> SupervisorPlan:
    """The generated supervision tree the system was built with."""
    return system.supervision_plan


def actor_names(plan: SupervisorPlan) -> list[str]:
    """Every actor (not supervisor) of ``plan``, depth first, in start order."""
    names: list[str] = []
    for child in plan.children:
        if isinstance(child, ChildPlan):
            names.append(child.name)
        else:
            names.extend(actor_names(child))
    return names


def supervisor_of(plan: SupervisorPlan, actor: str, path: str = "") -> str | None:
    """The path (``root/kitchen``) of the supervisor directly above ``actor``, if any."""
    here = f"{path}/{plan.name}" if path else plan.name
    for child in plan.children:
        if isinstance(child, ChildPlan):
            if child.name == actor:
                return here
        else:
            found = supervisor_of(child, actor, here)
            if found is not None:
                return found
    return None


def supervisor_spec(system: SagaSystem) -> SupervisorSpec:
    """The :class:`SupervisorSpec` the system starts its tree from (fresh factories)."""
    return system.supervisor_spec()


def aggregate_prototypes(system: SagaSystem) -> list[AggregateActor]:
    """One fresh, unstarted instance of every aggregate actor type, bound to the store.

    Used to replay streams exactly as a (re)started actor does; the instances never
    receive messages.
    """
    return system.aggregate_prototypes()
