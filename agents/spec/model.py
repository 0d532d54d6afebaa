"""The domain spec: pydantic models of what a user writes in ``spec.yaml``.

The models know nothing of YAML or templates. Cross-references (a saga step naming a
command, a pivot before a step with no compensation, ...) are checked in ``rules.py`` so
that every error of a file can be reported at once, each with its position.

Naming: contexts, aggregates, commands, externals, operations and sagas are keyed by
name in YAML mappings. Names are identifiers (Unicode letters allowed) in snake_case.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, PositiveInt, model_validator

from sagacrew.runtime.saga import RetryPolicy as RuntimeRetryPolicy

Identifier = Annotated[
    str,
    Field(
        pattern=r"^[^\W\d][\w]*$",
        max_length=64,
        description="A snake_case identifier (Unicode letters allowed), e.g. `create_order`.",
    ),
]

FieldType = Literal["str", "int", "float", "bool", "list", "dict"]


class _Strict(BaseModel):
    """Base for every spec model: unknown keys are errors, models are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class CommandKind(StrEnum):
    """What a command does, from which its compensation is derived.

    ``create`` → delete the created aggregate; ``update`` → restore the before-image;
    ``delete`` → re-create from the before-image; ``reserve`` → the aggregate's
    ``release`` command; ``query`` → nothing to undo; ``external`` (a saga step invoking
    ``external_system.operation``) → the operation's declared ``undo``.
    """

    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    RESERVE = "reserve"
    RELEASE = "release"
    QUERY = "query"
    EXTERNAL = "external"


class Reliability(StrEnum):
    """Whether an event must survive a crash (``persistent``) or may be lost (``transient``)."""

    PERSISTENT = "persistent"
    TRANSIENT = "transient"


class Invariant(_Strict):
    """A rule the aggregate's state must keep after every command.

    ``check`` is a comparison over the aggregate's fields and literals, e.g.
    ``available >= 0`` or ``status in ['pending', 'approved']``.
    """

    name: Identifier
    check: str = Field(min_length=1, max_length=500)
    description: str = ""


class PayloadChange(_Strict):
    """How an event's payload changed from ``from_version`` to the version after it.

    ``renamed`` maps old field names to new ones, ``added`` gives each new field the value
    old events get, ``removed`` lists fields the new version dropped. The generated
    upcaster applies exactly this to every stored event of the old version on replay.
    """

    from_version: PositiveInt
    renamed: dict[Identifier, Identifier] = Field(default_factory=dict)
    added: dict[Identifier, str | int | float | bool] = Field(default_factory=dict)
    removed: list[Identifier] = Field(default_factory=list)


class Command(_Strict):
    """A command an aggregate handles.

    ``params`` names the fields the caller supplies (default: none for ``delete`` and
    ``query``; every field for ``create``). ``sets`` assigns literal values (e.g.
    ``status: approved``). For ``reserve``/``release``, ``quantity_field`` is the field
    decremented/incremented by the ``amount`` parameter. ``rejects_when`` is a condition
    over the state and parameters under which the command is refused (a business
    failure, which makes a saga compensate). ``event`` is the past-tense verb of the event
    it emits (default from the kind: created, updated, deleted, reserved, released),
    ``event_version`` its schema version and ``reliability`` whether it must survive a
    crash; ``event_history`` says how the payload changed at each version before
    ``event_version`` (one entry per version, from 1). ``reserve``/``release`` always take
    an ``amount`` (int) parameter besides ``params``.
    """

    kind: CommandKind
    params: list[Identifier] | None = None
    sets: dict[Identifier, str | int | float | bool] = Field(default_factory=dict)
    delta: dict[Identifier, Annotated[str, Field(pattern=r"^[+-]?[^\W\d]\w*$")] | int | float] = (
        Field(default_factory=dict)
    )
    quantity_field: Identifier | None = None
    rejects_when: str | None = Field(default=None, max_length=500)
    event: Identifier | None = None
    event_version: PositiveInt = 1
    event_history: list[PayloadChange] = Field(default_factory=list)
    reliability: Reliability = Reliability.PERSISTENT
    description: str = ""


class Aggregate(_Strict):
    """A consistency boundary: identity, typed fields, invariants and commands.

    ``initial`` gives the state of an instance nobody has created (fields not named
    there start empty: ``""``, ``0``, ``0.0``, ``false``, ``[]``, ``{}``); commands other
    than ``create`` act on it, e.g. a quota that starts with ``available_gpus: 64``.

    ``when_locked`` says what a command of another saga meets while a saga holds an
    instance under a semantic lock (see ``SagaStep.lock``): ``refuse`` (default; a
    business refusal, so that saga compensates) or ``wait`` until the lock is released,
    for at most ``lock_timeout_s`` (default 1.0), then refuse.
    """

    identity: Identifier
    fields: dict[Identifier, FieldType] = Field(default_factory=dict)
    initial: dict[Identifier, str | int | float | bool] = Field(default_factory=dict)
    invariants: list[Invariant] = Field(default_factory=list)
    commands: dict[Identifier, Command] = Field(min_length=1)
    criticality: Literal["low", "normal", "high"] = "normal"
    snapshot_every: PositiveInt | None = None
    when_locked: Literal["refuse", "wait"] = "refuse"
    lock_timeout_s: PositiveFloat = 1.0
    description: str = ""

    def command_params(self, command: Command) -> list[str]:
        """The fields ``command`` takes from its caller: its ``params`` as written; without
        them, every field but the identity and those in ``sets`` for ``create``, none
        otherwise. (``reserve``/``release`` also take ``amount``, which is not a field.)"""
        if command.params is not None:
            return list(command.params)
        if command.kind is CommandKind.CREATE:
            return [f for f in self.fields if f != self.identity and f not in command.sets]
        return []

    def param_type(self, command: Command, param: str) -> str:
        """The type of a command parameter: its field's type; for a parameter that moves a
        field by ``delta``, that field's type; ``int`` for ``amount``; else ``str``."""
        if param in self.fields:
            return self.fields[param]
        for field_name, change in command.delta.items():
            if isinstance(change, str) and change.lstrip("+-") == param:
                return self.fields.get(field_name, "int")
        if param == "amount" and command.quantity_field:
            return "int"
        return "str"


class BoundedContext(_Strict):
    """A bounded context: a group of aggregates with one ubiquitous language."""

    aggregates: dict[Identifier, Aggregate] = Field(min_length=1)
    depends_on: list[Identifier] = Field(default_factory=list)
    description: str = ""


class Operation(_Strict):
    """An operation of an external system.

    ``undo`` names the operation that reverses it (none: not compensatable).
    ``completion_event`` names the event (``context.aggregate.verb``) by which completion
    of long work arrives later; the saga waits for it, never polls, and gives up after
    ``completion_timeout_s``.
    """

    undo: Identifier | None = None
    idempotent: bool = True
    params: list[Identifier] = Field(default_factory=list)
    completion_event: str | None = None
    completion_timeout_s: PositiveFloat | None = None
    description: str = ""


class ExternalSystem(_Strict):
    """A system outside the spec's contexts, reached through a gateway actor."""

    operations: dict[Identifier, Operation] = Field(min_length=1)
    description: str = ""


_RUNTIME_RETRY = RuntimeRetryPolicy()
"""The runtime's default retry policy: the spec's defaults are its values."""


def _retry_field(name: str) -> Any:
    """A spec field for the runtime retry policy's field ``name``: the runtime's default
    and bounds (:data:`RuntimeRetryPolicy.BOUNDS`), so both accept the same values."""
    bound = RuntimeRetryPolicy.BOUNDS[name]
    return Field(
        default=getattr(_RUNTIME_RETRY, name),
        ge=bound.minimum,
        lt=bound.below,
        allow_inf_nan=None if bound.whole else False,  # whole numbers are finite already
    )


class RetryPolicy(_Strict):
    """How a step is retried: attempts, exponential backoff, jitter, maximum delay.

    Defaults: 3 attempts, 0.05 s first delay, ×2 each retry, ±10 % jitter, 2 s at most.
    The defaults and the values allowed are the runtime's
    (:class:`sagacrew.runtime.RetryPolicy`): attempts >= 1, delays >= 0, multiplier >= 1,
    jitter in [0, 1), every number finite.
    """

    max_attempts: int = _retry_field("max_attempts")
    initial_backoff_s: float = _retry_field("initial_backoff_s")
    backoff_multiplier: float = _retry_field("backoff_multiplier")
    jitter: float = _retry_field("jitter")
    max_backoff_s: float = _retry_field("max_backoff_s")

    @model_validator(mode="after")
    def _runtime_accepts(self) -> Self:
        """Refuse what the runtime's policy would refuse when the generated package loads."""
        problems = RuntimeRetryPolicy.problems(**self.model_dump())
        if problems:
            raise ValueError(f"the runtime refuses {', '.join(problems)}")
        return self


class SagaStep(_Strict):
    """One step of a saga: invokes ``context.aggregate.command`` or ``external.operation``.

    ``pivot: true`` marks the go/no-go step: steps before it must be compensatable, steps
    after it are retried until they succeed or the saga's deadline passes.

    ``lock`` (aggregate steps only) is a semantic lock (Richardson, *Microservices
    Patterns* ch. 4): ``acquire`` holds the instance the step writes for this saga (other
    sagas' commands on it are refused or wait, as the aggregate's ``when_locked`` says),
    ``release`` lets it go; the compensation of the acquiring step releases it too. Left
    out, it is derived: an aggregate written by a step before the pivot and again after it
    is acquired by its first write and released by its last. ``none`` turns the derived
    lock off for this step.
    """

    name: Identifier
    invoke: str = Field(pattern=r"^[^\W\d]\w*(\.[^\W\d]\w*){1,2}$")
    pivot: bool = False
    lock: Literal["acquire", "release", "none"] | None = None
    timeout_s: PositiveFloat | None = None
    retry: RetryPolicy | None = None
    description: str = ""


class Saga(_Strict):
    """A long-lived transaction across contexts: trigger, ordered steps, deadline, retries."""

    trigger: str = Field(min_length=1, description="What starts the saga (a command or event).")
    steps: list[SagaStep] = Field(min_length=1)
    deadline_s: PositiveFloat = 30.0
    step_timeout_s: PositiveFloat = 5.0
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    compensation_retry: RetryPolicy = Field(default_factory=RetryPolicy)
    description: str = ""


class Thresholds(_Strict):
    """The verdict's gates. Defaults are the stage dossier's numbers."""

    success_rate_min: float = Field(ge=0.0, le=1.0)
    step_latency_p95_ms_max: PositiveFloat = 200.0
    step_latency_p99_ms_max: PositiveFloat = 500.0
    consistency_score_min: float = Field(ge=0.0, le=1.0)


def _default_profiles() -> dict[Literal["dev", "prod"], Thresholds]:
    return {
        "dev": Thresholds(success_rate_min=0.90, consistency_score_min=0.95),
        "prod": Thresholds(success_rate_min=0.995, consistency_score_min=0.999),
    }


class Workload(_Strict):
    """What ``sagacrew run`` executes: sagas per saga type and the injected faults.

    ``step_failure_rate`` makes a step's action fail before any effect (transient:
    retried); ``business_failure_rate`` makes a step fail for good (compensation);
    ``compensation_failure_rate`` makes a compensation fail transiently;
    ``duplicate_delivery_rate`` delivers a command twice (idempotency keys make it act once);
    ``lost_reply_rate`` loses the reply of a command that acted, so the step times out and
    its retry must not act again; ``crash_after`` (a share of the sagas) kills the process
    running a second workload with SIGKILL, and verify restarts it and checks every saga
    ends.
    The seed makes runs reproducible.
    """

    sagas_per_type: PositiveInt = 40
    seed: int = 7
    step_failure_rate: float = Field(default=0.05, ge=0.0, le=1.0)
    business_failure_rate: float = Field(default=0.03, ge=0.0, le=1.0)
    compensation_failure_rate: float = Field(default=0.05, ge=0.0, le=1.0)
    duplicate_delivery_rate: float = Field(default=0.1, ge=0.0, le=1.0)
    lost_reply_rate: float = Field(default=0.02, ge=0.0, le=1.0)
    crash_after: float = Field(default=0.5, ge=0.0, le=1.0)


class SystemInvariant(_Strict):
    """A rule across aggregates and external systems, checked by ``verify`` whenever every
    saga of a run has ended (Consistency Validator).

    Exactly one of:

    - ``conserved``: terms whose sum never changes. A term is
      ``context.aggregate.field`` (the field's change from its initial value, summed over
      every instance) or ``external.operation.param`` (the parameter summed over the calls
      of that operation that took effect: ``done`` or ``completed``, not undone or
      cancelled). Prefix a term with ``-`` to subtract it. E.g. money moved from accounts
      to a remote bank: ``[banking.account.balance_cents,
      remote_bank.credit_remote.amount_cents]``.
    - ``each`` + ``exists``: every live instance of the aggregate owning the field
      ``each`` (``context.aggregate.field``) names, by that field, a live instance of the
      aggregate ``exists`` (``context.aggregate``), e.g. every ticket's ``order_id`` names
      an existing order.
    """

    name: Identifier
    conserved: list[Annotated[str, Field(pattern=r"^-?[^\W\d]\w*(\.[^\W\d]\w*){2}$")]] | None = None
    each: str | None = Field(default=None, pattern=r"^[^\W\d]\w*(\.[^\W\d]\w*){2}$")
    exists: str | None = Field(default=None, pattern=r"^[^\W\d]\w*\.[^\W\d]\w*$")
    description: str = ""


class DomainSpec(_Strict):
    """A whole domain spec: the root of ``spec.yaml``.

    ``invariants`` are system invariants (:class:`SystemInvariant`), across aggregates
    and external systems; an aggregate's own invariants live under the aggregate.
    """

    system: Identifier
    title: str = ""
    description: str = ""
    contexts: dict[Identifier, BoundedContext] = Field(min_length=1)
    externals: dict[Identifier, ExternalSystem] = Field(default_factory=dict)
    sagas: dict[Identifier, Saga] = Field(min_length=1)
    invariants: list[SystemInvariant] = Field(default_factory=list)
    profiles: dict[Literal["dev", "prod"], Thresholds] = Field(default_factory=_default_profiles)
    workload: Workload = Field(default_factory=Workload)
