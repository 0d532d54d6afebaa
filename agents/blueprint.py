"""The blueprint: the typed intermediate representation the four agents build.

Each agent adds one part (``actors``, ``sagas``, ``events``, ``validation``); emitters
turn the whole into files, reading nothing else: ``blueprint.json`` alone regenerates the
system byte for byte. It is written with each model's keys sorted and each mapping's
entries in the order the agents gave them (the order the generated code lists them in),
so the same spec always gives the same bytes. Nothing here knows YAML or templates.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

from sagacrew.agents.spec.model import (
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
CompensationKind = Literal["delete", "restore", "recreate", "release", "reserve", "undo", "custom"]
PayloadSource = Literal["input", "forward_key", "step_result", "step_field", "item"]
Value = str | int | float | bool


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
    undoes: str | None = None
    """A gateway operation that reverses another: the operation it undoes."""


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
    initial: dict[str, Value] = Field(default_factory=dict)
    """An aggregate's state before anyone created the instance (fields not named: unset)."""


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


class PayloadEntry(_Part):
    """One entry of the payload a step or compensation sends: its key and its value's source.

    ``input``: the saga input ``field`` (empty: the one named ``key``); ``forward_key``:
    the idempotency key of the forward step being undone; ``step_result``: ``field`` of
    the forward step's result (``""`` when absent); ``step_field``: ``field`` of the
    result of the earlier step ``step``; ``item``: in a fan-out step, the item itself
    (``field`` empty) or its ``field``.
    """

    key: str
    source: PayloadSource = "input"
    field: str = ""
    step: str = ""


class Compensation(_Part):
    """How a done step is undone: derived from the command kind, or ``custom`` (the
    spec's ``compensate_with``, a command of the same aggregate)."""

    kind: CompensationKind
    target: str
    """Actor that performs the compensation."""
    command: str
    """Command or operation name sent to ``target``."""
    description: str
    payload: list[PayloadEntry] | None = None
    """What the compensation sends, in order; ``None``: not recorded (an old blueprint)."""


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
    payload: list[PayloadEntry] | None = None
    """What the step's command sends, in order; ``None``: not recorded (an old blueprint)."""
    on_timeout: Literal["retry", "compensate", "stall"] = "retry"
    """What a timed-out attempt means (see ``sagacrew.runtime.SagaStep``)."""
    for_each: PayloadEntry | None = None
    """The list a fan-out step sends its command once per item of (an ``input`` or a
    ``step_field``); ``None``: one command."""


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
    version: str = ""
    """A digest of the plan (``agents/versions.py``); ``""``: not recorded (an old blueprint)."""


class EarlierSaga(_Part):
    """A saga's earlier version, kept read-only for the sagas that started on it."""

    saga: SagaSpec
    spec_file: str
    spec_fingerprint: str
    """The blueprint it came from (``spec_fingerprint`` in ``agents/versions.py``)."""
    superseded_by: str
    """The fingerprint of the blueprint that replaced it (no timestamp: output is stable)."""


class SagaPart(_Part):
    sagas: list[SagaSpec]
    earlier: list[EarlierSaga] = Field(default_factory=list)
    """Earlier versions still kept, oldest first (``sagacrew versions DIR --drop``); left
    out of the dump while empty, so a system without history has the blueprint it had."""

    @model_serializer(mode="wrap")
    def _without_empty_earlier(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if not data.get("earlier"):
            data.pop("earlier", None)
        return data


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


ScenarioEnd = Literal["completed", "compensated", "compensation_failed", "stalled"]


class FaultExpectation(_Part):
    """What the system must do when a saga meets a scenario's fault (``verify`` checks it).

    ``ends``: the state the saga ends in; ``retried``: the faulted step (or compensation)
    is attempted again; ``compensated_in_reverse``: every done step with a compensation is
    compensated in the end, the compensations started last done first;
    ``dead_lettered``: a compensation out of attempts is parked in the dead-letter queue,
    and redriving it finishes the compensation;
    ``recovered``: after the process is killed, a restart finds the saga in flight and
    ends it; ``acted_once``: no command acted twice (one event per command and stream).
    """

    ends: ScenarioEnd
    retried: bool = False
    compensated_in_reverse: bool = False
    dead_lettered: bool = False
    recovered: bool = False
    acted_once: bool = True


class FaultScenario(_Part):
    name: str
    kind: FaultKind
    saga: str
    step: str | None
    """The step to fault; ``None``: ``verify`` picks one by kind (see fault_scenarios)."""
    rate: float
    description: str
    expect: FaultExpectation | None = None
    """The outcome ``verify`` holds it to; ``None`` (an old blueprint): its kind's default."""


class DeadLetterCase(_Part):
    """For the generated dead-letter test: a step to refuse, and an earlier step whose
    compensation then fails until it is dead-lettered (and redriven)."""

    fail: str
    compensate: str


class Effects(_Part):
    """What one successful run of a saga leaves behind: stored events, external calls."""

    events: int
    calls: int


class SagaTestPlan(_Part):
    """The Consistency Validator's cases for one saga's generated tests."""

    saga: str
    dead_letter: DeadLetterCase | None
    """``None``: no step up to the pivot follows a compensatable one."""
    effects: Effects


class ValidationPart(_Part):
    queries: list[ValidationQuery]
    faults: list[FaultScenario]
    profiles: dict[str, Thresholds]
    workload: Workload
    invariants: list[SystemInvariant] = Field(default_factory=list)
    """The spec's system invariants, checked by ``verify`` at the end of every run."""
    saga_tests: list[SagaTestPlan] = Field(default_factory=list)
    """One per saga, in the blueprint's saga order; empty: not recorded (an old blueprint)."""


# --- The whole -----------------------------------------------------------------------


class Blueprint(BaseModel):
    """The crew's shared state: the spec's name plus each agent's part, once done."""

    model_config = ConfigDict(extra="forbid")

    system: str
    title: str
    spec_file: str
    """Spec file name, as given to ``generate`` (for the generated files' header)."""
    actors: ActorPart | None = None
    """The Actor Architect's part; ``None`` until it has run, as are the parts below (the
    Saga Orchestrator's, the Event Sourcing Specialist's, the Consistency Validator's)."""
    sagas: SagaPart | None = None
    events: EventPart | None = None
    validation: ValidationPart | None = None

    def to_json(self) -> str:
        """Stable JSON: each model's keys sorted, each mapping's entries in order (the
        generated code's order, which loading keeps), two-space indent, trailing newline."""
        return json.dumps(_ordered(self, self.model_dump(mode="json")), indent=2) + "\n"


def _ordered(value: Any, dumped: Any) -> Any:
    """``dumped`` (``value`` as JSON data) with the keys of each model sorted."""
    if isinstance(value, BaseModel):
        return {key: _ordered(getattr(value, key), dumped[key]) for key in sorted(dumped)}
    if isinstance(value, dict):
        return {
            key: _ordered(item, dumped_item)
            for item, (key, dumped_item) in zip(value.values(), dumped.items(), strict=True)
        }
    if isinstance(value, list | tuple):
        return [_ordered(item, d) for item, d in zip(value, dumped, strict=True)]
    return dumped
