"""What a saga has done so far, rebuilt from its step log (after a restart, or on redrive)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sagacrew.runtime.store import StepLogEntry

FORWARD = "forward"
COMPENSATION = "compensation"

_NAMESPACE = uuid.UUID("5a6ac5e0-0000-4000-8000-000000000001")


def idempotency_key(saga_id: str, step_index: int, phase: str, attempt: int) -> str:
    """``f"{saga_id}:{step_index}:{phase}:{attempt}"``: one key per step attempt."""
    return f"{saga_id}:{step_index}:{phase}:{attempt}"


def transition_id(key: str) -> str:
    """The message id of a step attempt's transition: a UUID5 of its idempotency key, so a
    re-executed attempt carries the same causation id."""
    return uuid.uuid5(_NAMESPACE, key).hex


@dataclass
class History:
    """Per step: the forward result (when it succeeded), the last forward and compensation
    rows, and which compensations succeeded."""

    forward_results: dict[int, dict[str, Any]] = field(default_factory=dict)
    last_forward: dict[int, StepLogEntry] = field(default_factory=dict)
    compensated: set[int] = field(default_factory=set)
    last_compensation: dict[int, StepLogEntry] = field(default_factory=dict)

    @classmethod
    def from_log(cls, rows: Iterable[StepLogEntry]) -> History:
        history = cls()
        for row in rows:
            if row.phase == FORWARD:
                history.last_forward[row.step_index] = row
                if row.status == "succeeded":
                    history.forward_results[row.step_index] = dict(row.result or {})
            else:
                history.last_compensation[row.step_index] = row
                if row.status == "succeeded":
                    history.compensated.add(row.step_index)
        return history
