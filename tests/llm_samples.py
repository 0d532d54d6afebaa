"""What the LLM layer's tests share: the example they refine (the ``spec`` and ``blueprint``
fixtures of ``conftest.py``), and one valid proposed check and fault scenario."""

from __future__ import annotations

from pathlib import Path
from typing import Any

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "order_fulfilment.yaml"

CHECK: dict[str, Any] = {
    "name": "no_saga_stuck_running",
    "description": "No saga stays running for an hour without progress.",
    "violations_sql": "SELECT saga_id FROM saga_executions "
    "WHERE state = 'running' AND updated_at < ? - 3600",
    "subjects_sql": "SELECT COUNT(*) FROM saga_executions",
    "params": ["now"],
}
"""A valid extra invariant check, as the Consistency Validator proposes it."""

FAULT: dict[str, Any] = {
    "name": "create_order_kitchen_refusals",
    "kind": "business_failure",
    "saga": "create_order",
    "step": "create_ticket",
    "rate": 0.05,
    "description": "The kitchen refuses a ticket; the order is deleted again.",
}
"""A valid extra fault scenario, as the Consistency Validator proposes it."""
