"""The blueprint: the typed intermediate representation the four agents build.

Each agent adds one part (``actors``, ``sagas``, ``events``, ``validation``); emitters
turn the whole into files. It is written as ``blueprint.json`` with sorted keys, so the
same spec always gives the same bytes. Nothing here knows YAML or templates.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from sagacrew.crew.spec.model import (
    CommandKind,
    Reliability,
    RetryPolicy,
    SystemInvariant,
    Thresholds,
    Workload,
)

Strategy = Literal["one_for_one", "one_for_all", "rest_for_one"]
RestartType = Literal["permanent", "transient", "temporary"]
ActorKind = Literal["aggregate", "gateway"]
FaultKind = Literal[
    "step_failure",
    "business_failure",
    "compensation_failure",
    "duplicate_delivery",
    "lost_reply",
    "process_crash",
]
CompensationKind = Literal["delete", "restore", "recreate", "release", "reserve", "undo"]


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- Actor Architect -----------------------------------------------------------------


class Handler(_Part):
    """A message handler: one command in, one event out (or a refusal)."""

    command: str
    kind: CommandKind
    params: list[str]
    sets: dict[str, str | int | float | bool]
    delta: dict[str, str | int | float] = {}
    """Commutative update: field → signed parameter name or number it moves by."""
    quantity_field: str | None
    rejects_when: str | None
    """A Python expression over ``state`` and ``params``; true means refuse."""
    event: str | None
    """Full event name, ``context.aggregate.verb``; ``None`` for queries."""
    description: str


class InvariantRule(_Part):
    name: str
    check: str
    """The spec's check, as written."""
    python: str
    """The same check as a Python expression over ``state``."""
    description: str


class ActorSpec(_Part):
    """One actor type: an aggregate (entity region) or an external system's gateway."""

    name: str
    """Address in the actor system, ``context.aggregate`` or ``external``."""
    class_name: str
    kind: ActorKind
    context: str | None
    aggregate: str | None
    identity: str | None
    fields: dict[str, str]
    handlers: list[Handler]
    invariants: list[InvariantRule]
    description: str
    when_locked: Literal["refuse", "wait"] = "refuse"
    """What another saga's command meets on an instance under a semantic lock."""
    lock_timeout_s: float = 1.0
    """How long a ``wait`` lasts before the command is refused."""


class ChildSpec(_Part):
    """A supervised child, with OTP's restart type and shutdown timeout."""

    name: str
    restart: RestartType
    shutdown_s: float
    is_supervisor: bool = False


class SupervisorSpec(_Part):
    """A supervisor: strategy, restart intensity per period, backoff, and why."""

    name: str
    strategy: Strategy
    intensity: int
    period_s: float
    backoff_min_s: float
    backoff_max_s: float
    children: list[ChildSpec]
    rationale: str


class ActorPart(_Part):
    actors: list[ActorSpec]
    supervisors: list[SupervisorSpec]
    """Top-down: the first supervisor is the root."""


# --- Saga Orchestrator ---------------------------------------------------------------


class Compensation(_Part):
    """How a done step is undone, derived from the command kind."""

    kind: CompensationKind
    target: str
    """Actor that performs the compensation."""
    command: str
    """Command or operation name sent to ``target``."""
    description: str


class StepSpec(_Part):
    index: int
    name: str
    invoke: str
    target: str
    """Actor address the step's command is sent to."""
    command: str
    kind: CommandKind
    pivot: bool
    compensatable: bool
    retriable: bool
    """After the pivot: retried until success or the saga deadline."""
    compensation: Compensation | None
    timeout_s: float
    retry: RetryPolicy
    completion_event: str | None
    description: str
    lock: Literal["acquire", "release"] | None = None
    """Semantic lock on the instance the step writes (as written, or derived)."""


class Flowchart(_Part):
    dot: str
    mermaid: str


class SagaSpec(_Part):
    name: str
    class_name: str
    trigger: str
    inputs: dict[str, str]
    """Saga input fields and their types (identities and command parameters)."""
    steps: list[StepSpec]
    pivot_index: int | None
    deadline_s: float
    compensation_retry: RetryPolicy
    flowchart: Flowchart
    description: str


class SagaPart(_Part):
    sagas: list[SagaSpec]


# --- Event Sourcing Specialist -------------------------------------------------------


class EventSchema(_Part):
    """One entry of the taxonomy registry."""

    name: str
    """``context.aggregate.past_tense_verb``."""
    version: int
    source: str
    """Actor address that emits it."""
    class_name: str
    payload_schema: dict[str, Any]
    """JSON Schema (draft 2020-12) of the payload."""
    reliability: Reliability
    description: str


class SnapshotPolicy(_Part):
    actor: str
    every_n_events: int
    rationale: str


class Upcaster(_Part):
    """Turns a stored payload of ``event`` at ``from_version`` into the next version's."""

    event: str
    from_version: int
    function: str
    renamed: dict[str, str]
    added: dict[str, str | int | float | bool]
    removed: list[str]


class EventPart(_Part):
    events: list[EventSchema]
    snapshots: list[SnapshotPolicy]
    upcasters: list[Upcaster] = Field(default_factory=list)


# --- Consistency Validator -----------------------------------------------------------


class ValidationQuery(_Part):
    """A consistency check over the runtime's tables.

    ``violations_sql`` returns one row per violation (first column: the subject);
    ``subjects_sql`` returns one row with the number of subjects checked.
    """

    name: str
    description: str
    violations_sql: str
    subjects_sql: str
    params: list[Literal["now"]] = Field(default_factory=list)
    """Values bound to the ``?`` placeholders of ``violations_sql``, in order. ``now`` is
    the validation time in epoch seconds."""


class FaultScenario(_Part):
    name: str
    kind: FaultKind
    saga: str
    step: str | None
    rate: float
    description: str


class ValidationPart(_Part):
    queries: list[ValidationQuery]
    faults: list[FaultScenario]
    profiles: dict[str, Thresholds]
    workload: Workload
    invariants: list[SystemInvariant] = Field(default_factory=list)
    """The spec's system invariants, checked by ``verify`` at the end of every run."""


# --- The whole -----------------------------------------------------------------------


class Blueprint(BaseModel):
    """The crew's shared state: the spec's name plus each agent's part, once done."""

    model_config = ConfigDict(extra="forbid")

    system: str
    title: str
    spec_file: str
    """Spec file name, as given to ``generate`` (for the generated files' header)."""
    actors: ActorPart | None = None
    sagas: SagaPart | None = None
    events: EventPart | None = None
    validation: ValidationPart | None = None

    def to_json(self) -> str:
        """Stable JSON: sorted keys, two-space indent, trailing newline."""
        import json

        return json.dumps(self.model_dump(mode="json"), indent=2, sort_keys=True) + "\n"
