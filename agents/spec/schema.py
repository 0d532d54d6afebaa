"""The spec's JSON Schema, generated from the pydantic models, for editors and tools.

Field descriptions missing from the models are filled in here so that editors can show
them on hover; the schema is otherwise exactly pydantic's (draft 2020-12).
"""

from __future__ import annotations

from typing import Any

from sagacrew.agents.spec.model import DomainSpec

__all__ = ["SPEC_SCHEMA_ID", "spec_json_schema"]

SPEC_SCHEMA_ID = "https://sagacrew.dev/spec.schema.json"

_DESCRIPTIONS: dict[str, dict[str, str]] = {
    "DomainSpec": {
        "system": "Name of the system; the generated package is called after it.",
        "title": "A human title for reports.",
        "description": "What the system does.",
        "contexts": "Bounded contexts by name.",
        "externals": "External systems by name, reached through gateway actors.",
        "sagas": "Sagas by name.",
        "profiles": "Threshold profiles for the verdict (`dev`, `prod`).",
        "workload": "What `sagacrew run` executes and which faults it injects.",
    },
    "BoundedContext": {
        "aggregates": "Aggregates by name.",
        "depends_on": "Contexts this context depends on (no cycles).",
        "description": "What the context is about.",
    },
    "Aggregate": {
        "identity": "The field that identifies an instance; must be one of `fields`.",
        "fields": "Field name → type (str, int, float, bool, list, dict).",
        "initial": "State of an instance nobody created, e.g. `available_gpus: 64`.",
        "invariants": "Rules the state must keep after every command.",
        "commands": "Commands by name.",
        "criticality": "How much its failure matters to supervision (low, normal, high).",
        "snapshot_every": "Take a snapshot every N events (none: never).",
        "description": "What the aggregate is.",
    },
    "Invariant": {
        "name": "Name of the rule.",
        "check": "Condition over the aggregate's fields, e.g. `available >= 0`.",
        "description": "What the rule protects.",
    },
    "Command": {
        "kind": "create, update, delete, reserve, release or query; the compensation "
        "derives from it.",
        "params": "Fields the caller supplies (default: every field for create, else none); "
        "a mapping to types (`{max_drift: float}`) for parameters that are no field.",
        "sets": "Fields assigned literal values, e.g. `status: approved`.",
        "quantity_field": "For reserve/release: the int field taken or given back by `amount`.",
        "rejects_when": "Condition over state and params under which the command is refused "
        "(types are checked: a number never compares with a string).",
        "event": "Past-tense verb of the emitted event (default from the kind), or the "
        "whole dotted name a taxonomy fixes (`ml.run.completed`).",
        "event_version": "Schema version of the emitted event.",
        "event_history": "How the payload changed at each earlier version (for upcasters).",
        "reliability": "Whether the event must survive a crash (persistent) or not.",
        "description": "What the command does.",
    },
    "ExternalSystem": {
        "operations": "Operations by name.",
        "description": "What the system is.",
    },
    "Operation": {
        "kind": "`command` (default: changes something) or `query` (only reads; nothing "
        "to undo, so allowed before the pivot without a compensation).",
        "undo": "The operation of the same system that reverses this one (none: not "
        "compensatable).",
        "idempotent": "Whether repeating the call with the same idempotency key is harmless.",
        "params": "Parameters the call takes: a list of names, or a mapping to their types "
        "(`{total_cents: int}`).",
        "completion_event": "Event (dotted, ending in a past-tense verb; it need not name an "
        "aggregate) by which completion arrives later; the saga waits for it, never polls.",
        "completion_timeout_s": "Seconds to wait for the completion event before giving up.",
        "description": "What the operation does.",
    },
    "Saga": {
        "trigger": "What starts the saga: `context.aggregate.command` or an event name.",
        "steps": "Ordered steps.",
        "deadline_s": "Seconds after which an unfinished saga is compensated.",
        "step_timeout_s": "Default timeout of a step, in seconds.",
        "retry": "Retry policy of the steps.",
        "compensation_retry": "Retry policy of the compensations.",
        "description": "What the saga achieves.",
    },
    "SagaStep": {
        "name": "Name of the step, unique in its saga.",
        "invoke": "`context.aggregate.command` or `external.operation`.",
        "pivot": "The go/no-go step: steps before it are compensatable, steps after it "
        "are retried until they succeed.",
        "timeout_s": "Timeout of this step, in seconds (default: the saga's step_timeout_s).",
        "retry": "Retry policy of this step (default: the saga's).",
        "with": "Where each parameter comes from when not the saga input of the same "
        "name: another input (`quantity: rooms`), an earlier step's result "
        "(`flight_id: steps.reserve_seat.resource_id`), or in a for_each step the item "
        "(`sku: item.sku`).",
        "for_each": "A list (a saga input, or `steps.<step>.<field>`): the step sends its "
        "command once per item, each with its own idempotency key; its compensation undoes "
        "the done items in reverse.",
        "on_timeout": "What a timed-out attempt means: `retry` (default; then compensate), "
        "`compensate` at once (before the pivot only), or `stall` for an operator.",
        "compensate_with": "The compensation instead of the derived one: another command of "
        "the same aggregate (e.g. `ordering.order.reject_order`) or operation of the same "
        "external system; runs only if the step acted.",
        "description": "What the step does.",
    },
    "RetryPolicy": {
        "max_attempts": "Attempts in all, the first included.",
        "initial_backoff_s": "Delay before the first retry, in seconds.",
        "backoff_multiplier": "Factor applied to the delay after each retry.",
        "jitter": "Random spread of each delay, as a fraction (0.1 = ±10 %).",
        "max_backoff_s": "Longest delay between attempts, in seconds.",
    },
    "Thresholds": {
        "success_rate_min": "Lowest acceptable share of sagas that complete (0..1).",
        "step_latency_p95_ms_max": "Highest acceptable 95th percentile step latency, in ms.",
        "step_latency_p99_ms_max": "Highest acceptable 99th percentile step latency, in ms.",
        "consistency_score_min": "Lowest acceptable share of passed consistency checks (0..1).",
    },
    "PayloadChange": {
        "from_version": "The event version this change upgrades from.",
        "renamed": "Old field name -> new field name.",
        "added": "New field -> the value events of the old version get.",
        "removed": "Fields the new version no longer has.",
    },
    "Workload": {
        "sagas_per_type": "Sagas started per saga type.",
        "seed": "Random seed, for reproducible runs.",
        "step_failure_rate": "Share of step attempts failing transiently (retried).",
        "business_failure_rate": "Share of sagas that meet one business refusal, at a step "
        "up to the pivot (the saga compensates).",
        "compensation_failure_rate": "Share of compensation attempts failing transiently.",
        "duplicate_delivery_rate": "Share of commands delivered twice (must act once).",
        "lost_reply_rate": "Share of command replies lost after the effect (step times out).",
        "crash_after": "Share of the crash run's sagas that end before the process is killed.",
    },
}


def spec_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a domain spec, with ``$id`` and descriptions.

    Returns a fresh dict each call; ``json.dumps(..., sort_keys=True)`` of it is stable.
    """
    schema = DomainSpec.model_json_schema()
    definitions: dict[str, Any] = schema.get("$defs", {})
    _describe(schema, _DESCRIPTIONS["DomainSpec"])
    for name, definition in definitions.items():
        _describe(definition, _DESCRIPTIONS.get(name, {}))
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SPEC_SCHEMA_ID,
        **schema,
        "title": "sagacrew domain spec",
        "description": "A domain spec for sagacrew: bounded contexts with aggregates and "
        "commands, external systems, sagas, threshold profiles and the workload.",
    }


def _describe(definition: dict[str, Any], descriptions: dict[str, str]) -> None:
    properties: dict[str, Any] = definition.get("properties", {})
    for name, prop in properties.items():
        if name in descriptions and "description" not in prop:
            prop["description"] = descriptions[name]
