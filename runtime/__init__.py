"""sagacrew's runtime: supervised asyncio actors, an event store, durable sagas.

Generated systems import from here only. It never imports crewAI, nor the crew or the
agents: :func:`load_system` opens a generated-system folder (``blueprint.json`` and its
package) by itself, which is all ``sagacrew serve`` needs.
"""

from sagacrew.runtime._message_log import MessageLog
from sagacrew.runtime._quarantine import Quarantined
from sagacrew.runtime._workload import SAMPLE_ITEMS
from sagacrew.runtime.actors import (
    Actor,
    ActorRef,
    ActorSystem,
    Backoff,
    ChildSpec,
    SupervisorSpec,
)
from sagacrew.runtime.aggregate import AggregateActor, CommandHandler, Invariant, Rejection
from sagacrew.runtime.externals.sandbox import (
    GatewayError,
    GatewayOperation,
    GatewayRefusal,
    SandboxGateway,
)
from sagacrew.runtime.faults import ScriptedFault, ScriptedFaults
from sagacrew.runtime.heap import YOUNG_THRESHOLD, settle_startup_heap
from sagacrew.runtime.loader import GeneratedSystemError, LoadedSystem, load_system, read_blueprint
from sagacrew.runtime.messages import Envelope, new_id, new_ordered_id
from sagacrew.runtime.metrics import RuntimeMetrics
from sagacrew.runtime.saga import (
    Alert,
    FaultInjector,
    ForEach,
    FromStep,
    Item,
    PartialFailure,
    RetryPolicy,
    SagaDefinition,
    SagaOrchestrator,
    SagaResult,
    SagaState,
    SagaStep,
    SeededFaults,
    Send,
    StepContext,
    StepFailed,
    Undo,
)
from sagacrew.runtime.store import ConcurrencyError, NewEvent, Store, StoreError, open_store
from sagacrew.runtime.system import (
    ChildPlan,
    SagaSystem,
    SupervisorPlan,
    WorkloadOptions,
    WorkloadReport,
    overrides,
    sample_inputs,
)
from sagacrew.runtime.system_definition import SystemDefinition, workload_faults
from sagacrew.runtime.taxonomy import EventType

__all__ = [
    "SAMPLE_ITEMS",
    "YOUNG_THRESHOLD",
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
    "ForEach",
    "FromStep",
    "GatewayError",
    "GatewayOperation",
    "GatewayRefusal",
    "GeneratedSystemError",
    "Invariant",
    "Item",
    "LoadedSystem",
    "MessageLog",
    "NewEvent",
    "PartialFailure",
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
    "Send",
    "StepContext",
    "StepFailed",
    "Store",
    "StoreError",
    "SupervisorPlan",
    "SupervisorSpec",
    "SystemDefinition",
    "Undo",
    "WorkloadOptions",
    "WorkloadReport",
    "load_system",
    "new_id",
    "new_ordered_id",
    "open_store",
    "overrides",
    "read_blueprint",
    "sample_inputs",
    "settle_startup_heap",
    "workload_faults",
]
