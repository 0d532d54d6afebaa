"""Durable sagas: definitions, the orchestrator, retry policies and fault injection.

Steps run in order; before the pivot a failed step makes the saga compensate the
succeeded steps in reverse order, and first the failed step itself when it may have
acted (it timed out); after the pivot steps are retried until they succeed or the
deadline passes (then the saga is STALLED and an operator is alerted). A step that may
have acted but has no compensation stalls the saga too (an ``unknown_outcome`` alert).
A completion event that arrives after its step was given up has the step compensated
once more, with its own key (see :meth:`SagaOrchestrator.deliver`). Every transition is
persisted in the store before it is acted on, so nothing is lost or done twice across a
crash (see :meth:`SagaOrchestrator.recover`).

Declarative steps (``Send``/``Undo``) send fields of the saga's data, of an earlier
step's own result (``FromStep``: each step's result is kept whole, in its step-log row,
and offered as ``StepContext.step_results``) and, in a fan-out over a list known only at
run time (``ForEach``: one command per item, each with its own key ``item_key``), of
the current item (``Item``).
"""

from sagacrew.runtime.saga._commit import transition_committer
from sagacrew.runtime.saga._definition import (
    Dispatch,
    SagaDefinition,
    SagaStep,
    StepAction,
    StepContext,
    item_key,
)
from sagacrew.runtime.saga._env import SagaListener
from sagacrew.runtime.saga._errors import (
    SagaDefinitionError,
    SagaError,
    SagaPaused,
    StepFailed,
    UnknownSagaError,
)
from sagacrew.runtime.saga._faults import FaultInjector, SeededFaults
from sagacrew.runtime.saga._for_each import REPLIES, ForEach, PartialFailure
from sagacrew.runtime.saga._history import idempotency_key, transition_id
from sagacrew.runtime.saga._leasing import Lease
from sagacrew.runtime.saga._orchestrator import SagaIds, SagaOrchestrator
from sagacrew.runtime.saga._policy import RETRY_BOUNDS, Bound, RetryPolicy, check_retry_policy
from sagacrew.runtime.saga._send import FromStep, Item, Send, Undo
from sagacrew.runtime.saga._types import (
    Alert,
    SagaMetrics,
    SagaResult,
    SagaState,
    SagaStatus,
)

__all__ = [
    "REPLIES",
    "RETRY_BOUNDS",
    "Alert",
    "Bound",
    "Dispatch",
    "FaultInjector",
    "ForEach",
    "FromStep",
    "Item",
    "Lease",
    "PartialFailure",
    "RetryPolicy",
    "SagaDefinition",
    "SagaDefinitionError",
    "SagaError",
    "SagaIds",
    "SagaListener",
    "SagaMetrics",
    "SagaOrchestrator",
    "SagaPaused",
    "SagaResult",
    "SagaState",
    "SagaStatus",
    "SagaStep",
    "SeededFaults",
    "Send",
    "StepAction",
    "StepContext",
    "StepFailed",
    "Undo",
    "UnknownSagaError",
    "check_retry_policy",
    "idempotency_key",
    "item_key",
    "transition_committer",
    "transition_id",
]
