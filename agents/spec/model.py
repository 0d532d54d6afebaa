"""The domain spec: pydantic models of what a user writes in ``spec.yaml``.

The models know nothing of YAML or templates. Cross-references (a saga step naming a
command, a pivot before a step with no compensation, ...) are checked in ``rules.py`` so
that every error of a file can be reported at once, each with its position.

Naming: contexts, aggregates, commands, externals, operations and sagas are keyed by
name in YAML mappings. Names are identifiers (Unicode letters allowed) in snake_case.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, PositiveFloat, PositiveInt

from sagacrew.agents.spec.model_base import Strict
from sagacrew.agents.spec.model_run import RetryPolicy as RetryPolicy
from sagacrew.agents.spec.model_run import Thresholds as Thresholds
from sagacrew.agents.spec.model_run import Workload as Workload
from sagacrew.agents.spec.model_run import default_profiles

Identifier = Annotated[
    str,
    Field(
        pattern=r"^[^\W\d][\w]*$",
        max_length=64,
        description="A snake_case identifier (Unicode letters allowed), e.g. `create_order`.",
    ),
]

INVOKE_PATTERN = r"^[^\W\d]\w*(\.[^\W\d]\w*){1,2}$"
"""``context.aggregate.command`` or ``external.operation``."""

EventName = Annotated[
    str,
    Field(
        pattern=r"^[^\W\d]\w*(\.[^\W\d]\w*)*$",
        max_length=200,
        description="A past-tense verb (`approved`: the event is `context.aggregate.approved`) "
        "or a whole dotted name a taxonomy fixes (`ai.upm.snapshot.activated`).",
    ),
]

STEP_FIELD = r"steps\.[^\W\d]\w*\.[^\W\d]\w*"
LIST_SOURCE_PATTERN = rf"^({STEP_FIELD}|[^\W\d]\w*)$"
"""A list to fan out over: a saga input, or ``steps.<step>.<field>``."""

StepSource = Annotated[
    str,
    Field(
        pattern=rf"^({STEP_FIELD}|item(\.[^\W\d]\w*)?|[^\W\d]\w*)$",
        description="A saga input (`rooms`), an earlier step's result field "
        "(`steps.reserve_seat.resource_id`), or in a `for_each` step the item (`item`, "
        "`item.sku`).",
    ),
]

FieldType = Literal["str", "int", "float", "bool", "list", "dict"]


_Strict = Strict


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
    ``query``; every field for ``create``), as a list, or as a mapping to their types
    (``{max_drift: float}``) for parameters that are no field of the aggregate. ``sets``
    assigns literal values (e.g. ``status: approved``). For ``reserve``/``release``,
    ``quantity_field`` is the field decremented/incremented by the ``amount`` parameter.
    ``rejects_when`` is a condition over the state and parameters under which the command
    is refused (a business failure, which makes a saga compensate). ``event`` is the
    past-tense verb of the event it emits (default from the kind: created, updated,
    deleted, reserved, released), or the event's whole dotted name when a taxonomy fixes
    it (``ml.run.completed``), ``event_version`` its schema version and ``reliability``
    whether it must survive a crash; ``event_history`` says how the payload changed at
    each version before ``event_version`` (one entry per version, from 1).
    ``reserve``/``release`` always take
    an ``amount`` (int) parameter besides ``params``.
    """

    kind: CommandKind
    params: list[Identifier] | dict[Identifier, FieldType] | None = None
    sets: dict[Identifier, str | int | float | bool] = Field(default_factory=dict)
    delta: dict[Identifier, Annotated[str, Field(pattern=r"^[+-]?[^\W\d]\w*$")] | int | float] = (
        Field(default_factory=dict)
    )
    quantity_field: Identifier | None = None
    rejects_when: str | None = Field(default=None, max_length=500)
    event: EventName | None = None
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

    def param_type(
        self, command: Command, param: str, elsewhere: Mapping[str, str] | None = None
    ) -> str | None:
        """The type of a command parameter: as ``params`` declares it; else its field's
        type; for a parameter that moves a field by ``delta``, that field's type; ``int``
        for ``amount``; else the type of a field of that name ``elsewhere`` (another
        aggregate's); else ``None`` (nobody typed it)."""
        if isinstance(command.params, dict) and param in command.params:
            return command.params[param]
        if param in self.fields:
            return self.fields[param]
        for field_name, change in command.delta.items():
            if isinstance(change, str) and change.lstrip("+-") == param:
                return self.fields.get(field_name, "int")
        if param == "amount" and command.quantity_field:
            return "int"
        return (elsewhere or {}).get(param)


class BoundedContext(_Strict):
    """A bounded context: a group of aggregates with one ubiquitous language."""

    aggregates: dict[Identifier, Aggregate] = Field(min_length=1)
    depends_on: list[Identifier] = Field(default_factory=list)
    description: str = ""


class Operation(_Strict):
    """An operation of an external system.

    ``params``: the names the call takes, or a mapping to their types (``{total_cents:
    int}``); an untyped name takes the type of an aggregate field of that name, else ``str``.
    ``kind``: ``command`` (default) changes something in the external system; ``query``
    only reads (a policy check, a price lookup), so there is nothing to undo and a saga
    may call it before the pivot without a compensation.
    ``undo`` names the operation that reverses it (none: not compensatable).
    ``completion_event`` names the event (dotted, ending in a past-tense verb, e.g.
    ``ml.training_run.completed``; it need not name an aggregate) by which completion
    of long work arrives later; the saga waits for it, never polls, and gives up after
    ``completion_timeout_s``.
    """

    kind: Literal["command", "query"] = "command"
    undo: Identifier | None = None
    idempotent: bool = True
    params: list[Identifier] | dict[Identifier, FieldType] = Field(default_factory=list)
    completion_event: str | None = None
    completion_timeout_s: PositiveFloat | None = None
    description: str = ""


class ExternalSystem(_Strict):
    """A system outside the spec's contexts, reached through a gateway actor."""

    operations: dict[Identifier, Operation] = Field(min_length=1)
    description: str = ""


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

    ``compensate_with`` names the compensation instead of the derived one: another command
    of the same aggregate (``ordering.order.reject_order``: FTGO rejects the order, kept in
    history, rather than deleting it) or another operation of the same external system. It
    runs only when the step's command acted, at most once.

    ``with`` maps the command's parameters to where their values come from, when that is
    not the saga input of the same name: another saga input (``quantity: rooms``), an
    earlier step's result (``flight_id: steps.reserve_seat.resource_id``), or, in a
    ``for_each`` step, the item (``sku: item.sku``, or ``item`` itself). ``for_each``
    names a list (a saga input, or ``steps.<step>.<field>``): the step sends its command
    once per item, each with its own idempotency key, and its compensation undoes the
    done items in reverse. The list's length is known only at run time.

    ``on_timeout`` says what a timed-out attempt (its outcome unknown) means: ``retry``
    (default: retried by ``retry``, then compensated, this step included, undone by key
    so nothing happens if it never acted), ``compensate`` (at once, no retry; only before
    the pivot) or ``stall`` (neither: the saga stops for an operator).
    """

    name: Identifier
    invoke: str = Field(pattern=INVOKE_PATTERN)
    pivot: bool = False
    lock: Literal["acquire", "release", "none"] | None = None
    timeout_s: PositiveFloat | None = None
    retry: RetryPolicy | None = None
    compensate_with: str | None = Field(default=None, pattern=INVOKE_PATTERN)
    on_timeout: Literal["retry", "compensate", "stall"] = "retry"
    with_: dict[Identifier, StepSource] = Field(default_factory=dict, alias="with")
    for_each: str | None = Field(default=None, pattern=LIST_SOURCE_PATTERN)
    description: str = ""

    model_config = ConfigDict(
        extra="forbid", frozen=True, str_strip_whitespace=True, populate_by_name=True
    )


class Saga(_Strict):
    """A long-lived transaction across contexts: trigger, ordered steps, deadline, retries."""

    trigger: str = Field(min_length=1, description="What starts the saga (a command or event).")
    steps: list[SagaStep] = Field(min_length=1)
    deadline_s: PositiveFloat = 30.0
    step_timeout_s: PositiveFloat = 5.0
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    compensation_retry: RetryPolicy = Field(default_factory=RetryPolicy)
    description: str = ""


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
    profiles: dict[Literal["dev", "prod"], Thresholds] = Field(default_factory=default_profiles)
    workload: Workload = Field(default_factory=Workload)
