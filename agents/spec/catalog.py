"""What a spec declares, by name, even when parts of it are invalid.

The rules need to know which contexts, aggregates, commands and operations exist in
order to check references. The catalog is built from the raw data, validating each unit
(an aggregate, a command, an operation, a saga, a step) on its own, so that one typo
does not hide the other problems of the file: a unit that fails validation is known by
name (its model is ``None``) and references to it are accepted without further checks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

from sagacrew.agents.spec.model import (
    Aggregate,
    Command,
    CommandKind,
    FieldType,
    Identifier,
    Invariant,
    Operation,
    Saga,
    SagaStep,
)

__all__ = [
    "DEFAULT_EVENT_VERBS",
    "AggregateEntry",
    "Catalog",
    "CommandEntry",
    "OperationEntry",
    "SagaEntry",
    "aggregate_path",
    "build_catalog",
    "event_name",
    "event_verb",
]

DEFAULT_EVENT_VERBS: dict[CommandKind, str] = {
    CommandKind.CREATE: "created",
    CommandKind.UPDATE: "updated",
    CommandKind.DELETE: "deleted",
    CommandKind.RESERVE: "reserved",
    CommandKind.RELEASE: "released",
}
"""The event verb of a command without ``event:``; ``query`` and ``external`` emit none."""

_M = TypeVar("_M", bound=BaseModel)
_T = TypeVar("_T")
_FIELDS: TypeAdapter[dict[str, FieldType]] = TypeAdapter(dict[Identifier, FieldType])
_INITIAL: TypeAdapter[dict[str, str | int | float | bool]] = TypeAdapter(
    dict[Identifier, str | int | float | bool]
)
_IDENTIFIER: TypeAdapter[str] = TypeAdapter(Identifier)


def event_verb(command: Command) -> str | None:
    """The past-tense verb of the event ``command`` emits, or ``None`` (queries)."""
    if command.kind in (CommandKind.QUERY, CommandKind.EXTERNAL):
        return None
    return command.event or DEFAULT_EVENT_VERBS[command.kind]


def event_name(context: str, aggregate: str, command: Command) -> str | None:
    """The name of the event ``command`` emits: its ``event`` when that is a whole dotted
    name, else ``context.aggregate.<verb>``; ``None`` for queries."""
    verb = event_verb(command)
    if verb is None or "." in verb:
        return verb
    return f"{context}.{aggregate}.{verb}"


def aggregate_path(context: str, aggregate: str) -> tuple[str, ...]:
    """Where the aggregate ``context.aggregate`` stands in a spec's data."""
    return ("contexts", context, "aggregates", aggregate)


@dataclass(frozen=True)
class CommandEntry:
    """A command ``context.aggregate.command`` and its model (``None`` if invalid)."""

    context: str
    aggregate: str
    name: str
    model: Command | None

    @property
    def event_name(self) -> str | None:
        """The event the command emits (``None``: a query, or an invalid command)."""
        if self.model is None:
            return None
        return event_name(self.context, self.aggregate, self.model)

    @property
    def target(self) -> str:
        return f"{self.context}.{self.aggregate}.{self.name}"

    @property
    def path(self) -> tuple[str, ...]:
        return (*aggregate_path(self.context, self.aggregate), "commands", self.name)


@dataclass(frozen=True)
class AggregateEntry:
    """An aggregate, its model and its commands by name.

    ``model`` is the validated aggregate when ``complete``; when the aggregate fails
    validation but its ``fields`` are valid, ``model`` holds the valid parts only (the
    invalid invariants and commands left out, ``identity`` empty if invalid); else it is
    ``None``.
    """

    context: str
    name: str
    model: Aggregate | None
    commands: dict[str, CommandEntry]
    complete: bool = True

    @property
    def path(self) -> tuple[str, ...]:
        return aggregate_path(self.context, self.name)


@dataclass(frozen=True)
class OperationEntry:
    """An operation ``external.operation`` and its model (``None`` if invalid)."""

    system: str
    name: str
    model: Operation | None

    @property
    def target(self) -> str:
        return f"{self.system}.{self.name}"

    @property
    def path(self) -> tuple[str, ...]:
        return ("externals", self.system, "operations", self.name)


@dataclass(frozen=True)
class SagaEntry:
    """A saga: its model if valid, else whatever steps validated on their own."""

    name: str
    model: Saga | None
    trigger: str | None
    steps: list[SagaStep | None]
    raw_step_names: list[Any]


@dataclass
class Catalog:
    """Every name a spec declares, in the order written."""

    contexts: dict[str, list[Any] | None] = field(default_factory=dict)
    """Context name → its ``depends_on`` list as written (``None`` if not a list)."""
    aggregates: dict[tuple[str, str], AggregateEntry] = field(default_factory=dict)
    externals: dict[str, dict[str, OperationEntry]] = field(default_factory=dict)
    sagas: dict[str, SagaEntry] = field(default_factory=dict)

    def commands(self) -> dict[str, CommandEntry]:
        """Every command by ``context.aggregate.command``."""
        return {
            entry.target: entry
            for aggregate in self.aggregates.values()
            for entry in aggregate.commands.values()
        }

    def operations(self) -> dict[str, OperationEntry]:
        """Every operation by ``external.operation``."""
        return {
            entry.target: entry for system in self.externals.values() for entry in system.values()
        }

    def command_events(self) -> dict[str, CommandEntry]:
        """Event name → the first command that emits it."""
        events: dict[str, CommandEntry] = {}
        for entry in self.commands().values():
            name = entry.event_name
            if name is not None:
                events.setdefault(name, entry)
        return events

    def completion_events(self) -> set[str]:
        """Events by which external operations report completion."""
        return {
            entry.model.completion_event
            for entry in self.operations().values()
            if entry.model is not None and entry.model.completion_event
        }


def build_catalog(data: Any) -> Catalog:
    """The catalog of a spec's raw data (as loaded from YAML); tolerant of any shape."""
    catalog = Catalog()
    for context_name, context in _items(_get(data, "contexts")):
        depends = _get(context, "depends_on")
        catalog.contexts[context_name] = depends if isinstance(depends, list) else None
        for aggregate_name, raw in _items(_get(context, "aggregates")):
            catalog.aggregates[(context_name, aggregate_name)] = _aggregate(
                context_name, aggregate_name, raw
            )
    for system_name, system in _items(_get(data, "externals")):
        catalog.externals[system_name] = {
            name: OperationEntry(system_name, name, _valid(Operation, raw))
            for name, raw in _items(_get(system, "operations"))
        }
    for saga_name, raw in _items(_get(data, "sagas")):
        catalog.sagas[saga_name] = _saga(saga_name, raw)
    return catalog


def _aggregate(context: str, name: str, raw: Any) -> AggregateEntry:
    model = _valid(Aggregate, raw)
    if model is not None:
        commands = {
            command_name: CommandEntry(context, name, command_name, command)
            for command_name, command in model.commands.items()
        }
        return AggregateEntry(context, name, model, commands)
    commands = {
        command_name: CommandEntry(context, name, command_name, _valid(Command, command))
        for command_name, command in _items(_get(raw, "commands"))
    }
    return AggregateEntry(context, name, _partial_aggregate(raw, commands), commands, False)


def _partial_aggregate(raw: Any, commands: dict[str, CommandEntry]) -> Aggregate | None:
    """The valid parts of an invalid aggregate, or ``None`` if its fields are invalid."""
    raw_fields = raw.get("fields", {}) if isinstance(raw, dict) else None
    fields = _valid_value(_FIELDS, raw_fields) if isinstance(raw_fields, dict) else None
    if fields is None:
        return None
    identity = _valid_value(_IDENTIFIER, _get(raw, "identity"))
    raw_invariants = _get(raw, "invariants")
    invariants = [
        invariant
        for invariant in (_valid(Invariant, item) for item in _list(raw_invariants))
        if invariant is not None
    ]
    return Aggregate.model_construct(
        identity=identity if identity is not None else "",
        fields=fields,
        initial=_valid_value(_INITIAL, _get(raw, "initial") or {}) or {},
        invariants=invariants,
        commands={name: entry.model for name, entry in commands.items() if entry.model is not None},
    )


def _saga(name: str, raw: Any) -> SagaEntry:
    model = _valid(Saga, raw)
    raw_steps = _get(raw, "steps")
    raw_steps = raw_steps if isinstance(raw_steps, list) else []
    trigger = _get(raw, "trigger")
    if model is not None:
        steps: list[SagaStep | None] = list(model.steps)
        trigger = model.trigger
    else:
        steps = [_valid(SagaStep, step) for step in raw_steps]
    return SagaEntry(
        name=name,
        model=model,
        trigger=trigger if isinstance(trigger, str) else None,
        steps=steps,
        raw_step_names=[_get(step, "name") for step in raw_steps],
    )


def _valid(model: type[_M], raw: Any) -> _M | None:
    try:
        return model.model_validate(raw)
    except ValidationError:
        return None


def _valid_value(adapter: TypeAdapter[_T], raw: Any) -> _T | None:
    try:
        return adapter.validate_python(raw)
    except ValidationError:
        return None


def _list(raw: Any) -> list[Any]:
    return raw if isinstance(raw, list) else []


def _get(raw: Any, key: str) -> Any:
    return raw.get(key) if isinstance(raw, dict) else None


def _items(raw: Any) -> list[tuple[str, Any]]:
    if not isinstance(raw, dict):
        return []
    return [(str(key), value) for key, value in raw.items()]
