"""What to write instead: example values and fixes for the spec's fields.

Violations from pydantic's errors end with a fix such as ``write e.g. `timeout_s: 2` `` or
``add `identity: <field>` ...``; the examples come from the tables here, then from the
field's default in the model.
"""

from __future__ import annotations

from enum import Enum

from pydantic_core import PydanticUndefined

from sagacrew.agents.spec.model_fields import field_owner
from sagacrew.agents.spec.violation import Path

EXAMPLES: dict[str, str] = {
    "system": "order_fulfilment",
    "identity": "order_id",
    "kind": "create",
    "trigger": "ordering.order.create_order",
    "invoke": "ordering.order.create_order",
    "check": "available >= 0",
    "quantity_field": "available",
    "rejects_when": "total_cents > 50000",
    "event": "approved",
    "undo": "void_authorization",
    "completion_event": "ml.training_run.completed",
    "completion_timeout_s": "600",
    "timeout_s": "2",
    "snapshot_every": "100",
    "params": "[order_id, total_cents]",
    "sets": "{status: approved}",
    "depends_on": "[ordering]",
    "fields": "{order_id: str, total_cents: int}",
    "initial": "{available_gpus: 64}",
    "steps": "[{name: create_order, invoke: ordering.order.create_order}]",
    "invariants": "[{name: total_is_positive, check: total_cents > 0}]",
    "commands": "{create_order: {kind: create}}",
    "aggregates": "{order: {identity: order_id, fields: {order_id: str}, commands: {...}}}",
    "operations": "{authorize_card: {undo: void_authorization}}",
    "contexts": "{ordering: {aggregates: {...}}}",
    "externals": "{payment_gateway: {operations: {...}}}",
    "sagas": "{create_order: {trigger: ordering.order.create_order, steps: [...]}}",
    "retry": "{max_attempts: 3, initial_backoff_s: 0.05}",
    "compensation_retry": "{max_attempts: 3, initial_backoff_s: 0.05}",
    "profiles": "{prod: {success_rate_min: 0.995, consistency_score_min: 0.999}}",
    "workload": "{sagas_per_type: 40, seed: 7}",
    "pivot": "true",
    "idempotent": "true",
    "success_rate_min": "0.995",
    "consistency_score_min": "0.999",
    "title": "Order fulfilment",
    "description": "What this is for.",
}
NAMED_EXAMPLES: dict[tuple[str, str], str] = {
    ("Invariant", "name"): "total_is_positive",
    ("SagaStep", "name"): "create_order",
}
MISSING_FIXES: dict[str, str] = {
    "system": "add `system: order_fulfilment` (a snake_case name for the generated package)",
    "contexts": "add `contexts:` with at least one bounded context, "
    "e.g. `contexts: {ordering: {aggregates: {...}}}`",
    "sagas": "add `sagas:` with at least one saga, "
    "e.g. `sagas: {create_order: {trigger: ordering.order.create_order, steps: [...]}}`",
    "aggregates": "add `aggregates:` with at least one aggregate, "
    "e.g. `aggregates: {order: {identity: order_id, fields: {...}, commands: {...}}}`",
    "identity": "add `identity: <field>` naming the field that identifies the aggregate, "
    "e.g. `identity: order_id`",
    "commands": "add `commands:` with at least one command, "
    "e.g. `commands: {create_order: {kind: create}}`",
    "kind": "add `kind: create` (one of create, update, delete, reserve, release, query)",
    "operations": "add `operations:` with at least one operation, "
    "e.g. `operations: {authorize_card: {undo: void_authorization}}`",
    "trigger": "add `trigger:` naming a command or event, "
    "e.g. `trigger: ordering.order.create_order`",
    "steps": "add `steps:`, a list of steps, "
    "e.g. `steps: [{name: create_order, invoke: ordering.order.create_order}]`",
    "invoke": "add `invoke: context.aggregate.command` or `invoke: external.operation`",
    "check": "add `check:` with a condition, e.g. `check: available >= 0`",
}


def write_fix(path: Path) -> str:
    """The fix ``write e.g. `key: example` `` for the value at ``path``."""
    _, field_name = field_owner(path)
    key = field_name if field_name is not None and path and path[-1] == field_name else None
    if key is None and path and isinstance(path[-1], str):
        key = str(path[-1])
    if key is None:
        return f"write e.g. `{example(path)}`"
    return f"write e.g. `{key}: {example(path)}`"


def example(path: Path) -> str:
    """An example value for the field at ``path`` (``...`` when there is none)."""
    owner, field_name = field_owner(path)
    if owner is None or field_name is None:
        if len(path) >= 2 and path[-2] == "fields":
            return "int"
        return "..."
    named = NAMED_EXAMPLES.get((owner.__name__, field_name))
    if named is not None:
        return named
    if field_name in EXAMPLES:
        return EXAMPLES[field_name]
    info = owner.model_fields.get(field_name)
    if info is not None and info.default not in (None, PydanticUndefined):
        default = info.default
        if isinstance(default, Enum):
            return str(default.value)
        if isinstance(default, bool):
            return "true" if default else "false"
        if isinstance(default, int | float | str) and default != "":
            return str(default)
    return "..."
