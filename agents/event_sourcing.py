"""Event Sourcing Specialist: the event taxonomy, payload schemas and snapshot policy.

Names follow ``context.aggregate.past_tense_verb``. Each command that changes state emits
one event; the runtime's built-in compensations emit ``deleted`` (undoing a create),
``restored`` (undoing an update) and ``recreated`` (undoing a delete), and an external
operation that completes later announces it with its ``completion_event``. Every one of
them is in the registry, so nothing the system emits is outside the taxonomy.

Upcasters: a command whose event is at version N > 1 declares, per earlier version, what
was renamed, added or removed; each change becomes one complete upcaster function.

Snapshot policy: every 20 events for high-criticality aggregates (fast recovery), 50 by
default, 100 for low criticality, unless the spec sets ``snapshot_every``.
"""

from __future__ import annotations

from typing import Any

from sagacrew.agents.blueprint import Blueprint, EventPart, EventSchema, SnapshotPolicy, Upcaster
from sagacrew.agents.naming import COMPENSATION_EVENT_VERB, actor_address, event_class_name
from sagacrew.agents.spec.catalog import event_name
from sagacrew.agents.spec.model import Aggregate, CommandKind, DomainSpec, Reliability

_JSON_TYPE = {
    "str": "string",
    "int": "integer",
    "float": "number",
    "bool": "boolean",
    "list": "array",
    "dict": "object",
}
_SNAPSHOT_EVERY = {"high": 20, "normal": 50, "low": 100}


def _object(
    properties: dict[str, Any], title: str, optional: frozenset[str] = frozenset()
) -> dict[str, Any]:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": title,
        "type": "object",
        "properties": properties,
        "required": sorted(set(properties) - optional),
        "additionalProperties": False,
    }


class EventSourcingSpecialist:
    """Derives every event the system emits, with a JSON Schema per payload."""

    def contribute(self, spec: DomainSpec, blueprint: Blueprint) -> EventPart:
        events: dict[str, EventSchema] = {}
        snapshots = []
        upcasters: list[Upcaster] = []
        for context_name, context in spec.contexts.items():
            for aggregate_name, aggregate in context.aggregates.items():
                source = actor_address(context_name, aggregate_name)
                for schema in self._aggregate_events(context_name, aggregate_name, aggregate):
                    events.setdefault(schema.name, schema)
                for command in aggregate.commands.values():
                    name = event_name(context_name, aggregate_name, command)
                    for change in sorted(command.event_history, key=lambda c: c.from_version):
                        assert name is not None
                        upcasters.append(
                            Upcaster(
                                event=name,
                                from_version=change.from_version,
                                function=f"upcast_{name.replace('.', '_')}_v{change.from_version}",
                                renamed=dict(change.renamed),
                                added=dict(change.added),
                                removed=list(change.removed),
                            )
                        )
                every = aggregate.snapshot_every or _SNAPSHOT_EVERY[aggregate.criticality]
                snapshots.append(
                    SnapshotPolicy(
                        actor=source,
                        every_n_events=every,
                        rationale=(
                            f"every {every} events, as the spec sets"
                            if aggregate.snapshot_every
                            else f"every {every} events, for {aggregate.criticality} criticality"
                        ),
                    )
                )
        for system_name, system in spec.externals.items():
            for operation_name, operation in system.operations.items():
                if operation.completion_event and operation.completion_event not in events:
                    events[operation.completion_event] = EventSchema(
                        name=operation.completion_event,
                        version=1,
                        source=system_name,
                        class_name=event_class_name(operation.completion_event),
                        payload_schema=_object(
                            {
                                "resource_id": {"type": "string"},
                                "status": {"type": "string", "enum": ["completed"]},
                                "result": {"type": "object"},
                            },
                            f"{operation.completion_event} v1",
                        ),
                        reliability=Reliability.PERSISTENT,
                        description=f"{system_name} finished {operation_name}.",
                    )
        return EventPart(events=list(events.values()), snapshots=snapshots, upcasters=upcasters)

    def _aggregate_events(self, context: str, name: str, aggregate: Aggregate) -> list[EventSchema]:
        fields = aggregate.fields
        source = actor_address(context, name)
        before = {"type": "object", "description": "Field values before the change."}
        result: list[EventSchema] = []

        def add(
            event: str,
            version: int,
            properties: dict[str, Any],
            reliability: Reliability,
            description: str,
            optional: frozenset[str] = frozenset(),
        ) -> None:
            result.append(
                EventSchema(
                    name=event,
                    version=version,
                    source=source,
                    class_name=event_class_name(event),
                    payload_schema=_object(properties, f"{event} v{version}", optional),
                    reliability=reliability,
                    description=description,
                )
            )

        kinds = {command.kind for command in aggregate.commands.values()}
        moves = {field for command in aggregate.commands.values() for field in command.delta}
        delta = {
            "type": "object",
            "description": "Signed change of each moved field (a commutative update).",
            "properties": {field: {"type": _JSON_TYPE[fields[field]]} for field in sorted(moves)},
            "additionalProperties": False,
        }
        for command_name, command in aggregate.commands.items():
            event = event_name(context, name, command)
            if event is None:
                continue
            params = aggregate.command_params(command)
            properties: dict[str, Any] = {
                aggregate.identity: {"type": _JSON_TYPE[fields.get(aggregate.identity, "str")]}
            }
            for field in [*params, *command.sets]:
                kind_of = fields.get(field) or aggregate.param_type(command, field) or "str"
                properties[field] = {"type": _JSON_TYPE[kind_of]}
            if command.delta:
                properties["delta"] = delta
            if command.kind in (CommandKind.UPDATE, CommandKind.DELETE):
                properties["before"] = before
            if command.kind in (CommandKind.RESERVE, CommandKind.RELEASE):
                properties["amount"] = {"type": "integer", "minimum": 1}
            add(
                event,
                command.event_version,
                properties,
                command.reliability,
                command.description or f"{command_name} on {source} succeeded.",
            )
        for kind, verb in COMPENSATION_EVENT_VERB.items():
            if kind in kinds:
                properties = {
                    aggregate.identity: {"type": _JSON_TYPE[fields.get(aggregate.identity, "str")]}
                }
                if kind is not CommandKind.CREATE:
                    properties["before"] = before
                if kind is CommandKind.UPDATE and moves:
                    properties["delta"] = delta
                add(
                    f"{context}.{name}.{verb}",
                    1,
                    properties,
                    Reliability.PERSISTENT,
                    f"Compensation: a {kind.value} on {source} was undone.",
                    frozenset({"delta"}),
                )
        return result
