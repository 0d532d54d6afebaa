"""Operations on a running saga system: dead letters, rollback, SAGA-001..004 triggers.

- **Dead letters**: :func:`list_dead_letters`, :func:`show_dead_letter` (with
  :func:`describe_dead_letter` and :func:`compensation_attempts`) and
  :func:`redrive_dead_letter`, which re-runs a parked compensation on a started
  :class:`~sagacrew.runtime.SagaSystem`.
- **Rollback** (the seed's procedure): :func:`rollback` pauses new sagas, drains the
  sagas in flight with a deadline, restarts the supervision tree so every aggregate
  instance is rebuilt from its latest snapshot plus later events, checks replay against
  every snapshot, re-validates, and resumes only when all of that passed. The
  :class:`RollbackReport` records every step and is written as Markdown and JSON.
- **Triggers**: :func:`evaluate_triggers` applies the pure rules SAGA-001..004 to measured
  :class:`Figures` (read with :func:`read_figures`); :func:`remediate` diagnoses a
  :class:`TriggerFiring` from the tables, applies one bounded remediation, re-validates
  and writes an :class:`IncidentReport` (a completion report for SAGA-004).

The consistency validation itself belongs to the Consistency Validator, which the runtime
does not import: rollback and remediation take it as a callable (``validate`` /
``measure``).
"""

from sagacrew.runtime.operations._dead_letters import (
    STATUSES,
    RedriveOutcome,
    check_redrivable,
    compensation_attempts,
    describe_dead_letter,
    list_dead_letters,
    redrive_dead_letter,
    show_dead_letter,
)
from sagacrew.runtime.operations._diagnose import (
    ActorFailures,
    FailureGroup,
    actor_failures,
    failed_saga_groups,
    parked_compensations,
    unfinished_sagas,
)
from sagacrew.runtime.operations._errors import (
    NotRedrivableError,
    OperationsError,
    SystemNotStartedError,
    UnknownDeadLetterError,
)
from sagacrew.runtime.operations._figures import (
    Figures,
    consistency_held_s,
    count_actor_failures,
    count_parked_compensations,
    read_figures,
    saga_success,
)
from sagacrew.runtime.operations._remediate import IncidentReport, Measure, remediate
from sagacrew.runtime.operations._restore import (
    ReplayCheck,
    TreeRestart,
    check_replay,
    restart_supervision_tree,
)
from sagacrew.runtime.operations._rollback import RollbackReport, RollbackStep, rollback
from sagacrew.runtime.operations._triggers import (
    PROD_CONSISTENCY_WINDOW_S,
    REMEDIATIONS,
    TITLES,
    TriggerFiring,
    TriggerId,
    TriggerPolicy,
    evaluate_triggers,
)
from sagacrew.runtime.operations._validation import (
    Validate,
    Validation,
    ValidationResult,
    VerdictLike,
    run_validation,
)

__all__ = [
    "PROD_CONSISTENCY_WINDOW_S",
    "REMEDIATIONS",
    "STATUSES",
    "TITLES",
    "ActorFailures",
    "FailureGroup",
    "Figures",
    "IncidentReport",
    "Measure",
    "NotRedrivableError",
    "OperationsError",
    "RedriveOutcome",
    "ReplayCheck",
    "RollbackReport",
    "RollbackStep",
    "SystemNotStartedError",
    "TreeRestart",
    "TriggerFiring",
    "TriggerId",
    "TriggerPolicy",
    "UnknownDeadLetterError",
    "Validate",
    "Validation",
    "ValidationResult",
    "VerdictLike",
    "actor_failures",
    "check_redrivable",
    "check_replay",
    "compensation_attempts",
    "consistency_held_s",
    "count_actor_failures",
    "count_parked_compensations",
    "describe_dead_letter",
    "evaluate_triggers",
    "failed_saga_groups",
    "list_dead_letters",
    "parked_compensations",
    "read_figures",
    "redrive_dead_letter",
    "remediate",
    "restart_supervision_tree",
    "rollback",
    "run_validation",
    "saga_success",
    "show_dead_letter",
    "unfinished_sagas",
]
