"""The verdict's figures, computed in Python from plain SELECTs (portable SQL).

- success rate: sagas in state ``completed`` / sagas in a terminal state (``completed``,
  ``compensated``, ``compensation_failed``, ``stalled``), per 5-minute window of the sagas'
  end times (the dossier's measurement window, counted from the first end); the gate
  takes the worst window; 1.0 when none is terminal;
- step latency p95/p99: nearest-rank percentiles of ``saga_step_log.latency_ms`` over
  forward steps with status ``succeeded`` (rows with NULL latency are left out; a step's
  latency leaves out its wait for an external completion event), per 1-minute window of
  the steps' end times (counted from the first); the gate takes the worst window; 0.0 when
  there are none;
- consistency score: 1 - violations / subjects summed over every check, clamped to
  [0, 1]; 1.0 when no subject was checked.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from sagacrew.agents.validator.db import SqlRunner
from sagacrew.agents.validator.queries import TERMINAL_STATES

SUCCESS_WINDOW_S = 300.0
"""Success rate is measured over 5-minute windows."""
LATENCY_WINDOW_S = 60.0
"""Step latency is measured over 1-minute windows."""

STUCK_STATES = ("compensation_failed", "stalled")
"""Terminal states that always need an operator: their sagas are listed as failing."""

_LATENCIES_SQL = (
    "SELECT latency_ms, ended_at FROM saga_step_log "
    "WHERE phase = 'forward' AND status = 'succeeded' AND latency_ms IS NOT NULL"
)


@dataclass(frozen=True)
class SagaCensus:
    """Every saga's id and state, read once."""

    states: dict[str, str]
    """Saga id -> state."""
    ended_at: dict[str, float] = field(default_factory=dict)
    """Saga id -> end time (epoch seconds), for terminal sagas that recorded one."""

    @property
    def total(self) -> int:
        return len(self.states)

    @property
    def success_rate(self) -> float:
        """Completed / terminal sagas in the worst 5-minute window; 1.0 when none is terminal.

        Sagas without an end time count in one window of their own.
        """
        windows: dict[float, list[str]] = {}
        first = min(self.ended_at.values(), default=0.0)
        for saga_id, state in self.states.items():
            if state in TERMINAL_STATES:
                ended = self.ended_at.get(saga_id)
                key = -1.0 if ended is None else _window(ended, first, SUCCESS_WINDOW_S)
                windows.setdefault(key, []).append(state)
        if not windows:
            return 1.0
        return min(
            sum(1 for s in states if s == "completed") / len(states) for states in windows.values()
        )

    @property
    def stuck(self) -> list[str]:
        """Ids of sagas in ``compensation_failed`` or ``stalled``, sorted."""
        return sorted(i for i, s in self.states.items() if s in STUCK_STATES)


def read_census(db: SqlRunner) -> SagaCensus:
    """Every saga's id and state from ``saga_executions``."""
    rows = db.query("SELECT saga_id, state, ended_at FROM saga_executions")
    return SagaCensus(
        {str(saga_id): str(state) for saga_id, state, _ in rows},
        {str(saga_id): float(ended) for saga_id, _, ended in rows if ended is not None},
    )


def read_step_latencies_ms(db: SqlRunner) -> list[float]:
    """Latencies (ms) of succeeded forward steps, ascending."""
    return sorted(float(row[0]) for row in db.query(_LATENCIES_SQL))


def worst_window_percentile(db: SqlRunner, percent: float) -> float:
    """The highest per-1-minute-window nearest-rank percentile of step latency (ms)."""
    rows = db.query(_LATENCIES_SQL)
    first = min((float(ended) for _, ended in rows if ended is not None), default=0.0)
    windows: dict[float, list[float]] = {}
    for latency, ended in rows:
        key = -1.0 if ended is None else _window(float(ended), first, LATENCY_WINDOW_S)
        windows.setdefault(key, []).append(float(latency))
    return max(
        (percentile_nearest_rank(sorted(values), percent) for values in windows.values()),
        default=0.0,
    )


def _window(at: float, first: float, length_s: float) -> float:
    """The window ``at`` falls in, counting from ``first``: a run shorter than one window
    is judged as a whole, never cut in two by a clock boundary."""
    return float(math.floor((at - first) / length_s))


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
