"""sagacrew's runtime: supervised asyncio actors, an event store, durable sagas.

Generated systems import from here only. It never imports crewAI, nor the crew or the
agents: :func:`load_system` opens a generated-system folder (``blueprint.json`` and its
package) by itself, which is all ``sagacrew serve`` needs.
"""

from sagacrew.runtime._quarantine import Quarantined
from sagacrew.runtime.actors import (
    Actor,
    ActorRef,
    ActorSystem,
    Backoff,
    ChildSpec,
    SupervisorSpec,
)
from sagacrew.runtime.aggregate import AggregateActor, CommandHandler, Rejection
from sagacrew.runtime.externals.sandbox import GatewayError, GatewayOperation, SandboxGateway
from sagacrew.runtime.faults import ScriptedFault, ScriptedFaults
from sagacrew.runtime.loader import GeneratedSystemError, LoadedSystem, load_system
from sagacrew.runtime.messages import Envelope, new_id
from sagacrew.runtime.metrics import RuntimeMetrics
from sagacrew.runtime.saga import (
    Alert,
    FaultInjector,
    RetryPolicy,
    SagaDefinition,
    SagaOrchestrator,
    SagaResult,
    SagaState,
    SagaStep,
    SeededFaults,
    StepContext,
    StepFailed,
)
from sagacrew.runtime.store import ConcurrencyError, NewEvent, Store, StoreError, open_store
from sagacrew.runtime.system import (
    ChildPlan,
    SagaSystem,
    SupervisorPlan,
    WorkloadReport,
    overrides,
    sample_inputs,
)
from sagacrew.runtime.taxonomy import EventType

__all__ = [
    "Actor",
    "ActorRef",
    "ActorSystem",
    "AggregateActor",
    "Alert",
    "Backoff",
    "ChildPlan",
    "ChildSpec",
    "CommandHandler",
    "ConcurrencyError",
    "Envelope",
    "EventType",
    "FaultInjector",
    "GatewayError",
    "GatewayOperation",
    "GeneratedSystemError",
    "LoadedSystem",
    "NewEvent",
    "Quarantined",
    "Rejection",
    "RetryPolicy",
    "RuntimeMetrics",
    "SagaDefinition",
    "SagaOrchestrator",
    "SagaResult",
    "SagaState",
    "SagaStep",
    "SagaSystem",
    "SandboxGateway",
    "ScriptedFault",
    "ScriptedFaults",
    "SeededFaults",
    "StepContext",
    "StepFailed",
    "Store",
    "StoreError",
    "SupervisorPlan",
    "SupervisorSpec",
    "WorkloadReport",
    "load_system",
    "new_id",
    "open_store",
    "overrides",
    "sample_inputs",
]
