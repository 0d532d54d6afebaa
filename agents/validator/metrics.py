"""The verdict's figures, computed in Python from plain SELECTs (portable SQL).

- success rate: sagas in state ``completed`` / sagas in a terminal state (``completed``,
  ``compensated``, ``compensation_failed``, ``stalled``); 1.0 when none is terminal;
- step latency p95/p99: nearest-rank percentiles of ``saga_step_log.latency_ms`` over
  forward steps with status ``succeeded`` (rows with NULL latency are left out); 0.0 when
  there are none;
- consistency score: 1 - violations / subjects summed over every check, clamped to
  [0, 1]; 1.0 when no subject was checked.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from sagacrew.agents.validator.db import SqlRunner
from sagacrew.agents.validator.queries import TERMINAL_STATES

STUCK_STATES = ("compensation_failed", "stalled")
"""Terminal states that always need an operator: their sagas are listed as failing."""

_LATENCIES_SQL = (
    "SELECT latency_ms FROM saga_step_log "
    "WHERE phase = 'forward' AND status = 'succeeded' AND latency_ms IS NOT NULL"
)


@dataclass(frozen=True)
class SagaCensus:
    """Every saga's id and state, read once."""

    states: dict[str, str]
    """Saga id -> state."""

    @property
    def total(self) -> int:
        return len(self.states)

    @property
    def success_rate(self) -> float:
        """Completed / terminal sagas; 1.0 when no saga is terminal."""
        terminal = [s for s in self.states.values() if s in TERMINAL_STATES]
        if not terminal:
            return 1.0
        return sum(1 for s in terminal if s == "completed") / len(terminal)

    @property
    def stuck(self) -> list[str]:
        """Ids of sagas in ``compensation_failed`` or ``stalled``, sorted."""
        return sorted(i for i, s in self.states.items() if s in STUCK_STATES)


def read_census(db: SqlRunner) -> SagaCensus:
    """Every saga's id and state from ``saga_executions``."""
    rows = db.query("SELECT saga_id, state FROM saga_executions")
    return SagaCensus({str(saga_id): str(state) for saga_id, state in rows})


def read_step_latencies_ms(db: SqlRunner) -> list[float]:
    """Latencies (ms) of succeeded forward steps, ascending."""
    return sorted(float(row[0]) for row in db.query(_LATENCIES_SQL))


def percentile_nearest_rank(sorted_values: Sequence[float], percent: float) -> float:
    """The nearest-rank percentile: the value at rank ``ceil(percent / 100 * n)``.

    ``sorted_values`` must be ascending; ``percent`` is in (0, 100]. 0.0 when empty.
    """
    if not sorted_values:
        return 0.0
    # Rounded first so that float noise (0.07 * 100 = 7.000000000000001) cannot move the rank.
    rank = max(1, math.ceil(round(percent * len(sorted_values) / 100.0, 9)))
    rank = min(rank, len(sorted_values))
    return float(sorted_values[rank - 1])


def consistency_score(subjects: int, violations: int) -> float:
    """``1 - violations / subjects`` clamped to [0, 1]; 1.0 when ``subjects`` is 0."""
    if subjects <= 0:
        return 1.0
    return min(1.0, max(0.0, 1.0 - violations / subjects))
