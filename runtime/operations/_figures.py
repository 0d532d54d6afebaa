"""The figures the SAGA-001..004 triggers are evaluated on, and how they are read.

Success rate, parked dead letters and actor failures come from the runtime's own tables
(and the live actor system); the consistency score comes from the Consistency Validator,
which the runtime does not know: callers pass it in.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sagacrew.runtime.actors import ActorSystem
from sagacrew.runtime.saga import SagaState
from sagacrew.runtime.store import Store

TERMINAL_STATES: tuple[str, ...] = tuple(state.value for state in SagaState if state.terminal)
"""``completed``, ``compensated``, ``compensation_failed``, ``stalled``."""


@dataclass(frozen=True)
class Figures:
    """Measured figures of one system at one moment.

    - ``success_rate``: completed sagas / terminal sagas (0..1; 1.0 when none is
      terminal), as the validator defines it;
    - ``consistency_score``: the validator's score (0..1);
    - ``consistency_held_s``: for how long the score has been at or above the profile
      minimum (0.0 when it is below now), see :func:`consistency_held_s`;
    - ``sagas_terminal``: how many sagas the success rate is over;
    - ``dead_letters_parked``: compensations dead-lettered after their retries and not
      yet redriven;
    - ``actor_restarts``: actor restarts counted by the live actor system since it
      started (minus a baseline, see :func:`read_figures`);
    - ``actor_failures``: messages whose handler raised (``actor_message_log`` outcome
      ``error``) within the failure window;
    - ``supervision_failed``: a top-level supervisor exceeded its restart intensity (or a
      child escalated to it) and the tree is down.
    """

    success_rate: float
    consistency_score: float
    consistency_held_s: float = 0.0
    sagas_terminal: int = 0
    dead_letters_parked: int = 0
    actor_restarts: int = 0
    actor_failures: int = 0
    supervision_failed: bool = False

    def rows(self) -> list[tuple[str, str]]:
        """``(label, formatted value)`` pairs, in a fixed order, for reports and tables."""
        return [
            ("transaction success rate", f"{self.success_rate * 100:.2f} %"),
            ("consistency score", f"{self.consistency_score * 100:.2f} %"),
            ("consistency score held", f"{self.consistency_held_s:.0f} s"),
            ("terminal sagas", str(self.sagas_terminal)),
            ("parked dead letters", str(self.dead_letters_parked)),
            ("actor restarts", str(self.actor_restarts)),
            ("actor failures in window", str(self.actor_failures)),
            ("supervision tree failed", "yes" if self.supervision_failed else "no"),
        ]


def consistency_held_s(
    history: Iterable[tuple[float, float]], *, minimum: float, now: float, current: float
) -> float:
    """For how long the consistency score has stayed at or above ``minimum``, in seconds.

    ``history`` holds earlier ``(validated_at, score)`` measurements (any order; rows
    after ``now`` are ignored) and ``current`` is the score measured at ``now``. The
    answer is ``now`` minus the time of the oldest measurement of the unbroken run of
    passing measurements that ends with ``current``; 0.0 when ``current`` is below
    ``minimum`` or no earlier measurement passed.
    """
    if current < minimum:
        return 0.0
    since = now
    for validated_at, score in sorted(history, reverse=True):
        if validated_at > now:
            continue
        if score < minimum:
            break
        since = validated_at
    return now - since


def saga_success(store: Store) -> tuple[int, float]:
    """``(terminal sagas, success rate)`` from ``saga_executions``."""
    counts = store.saga_state_counts()
    terminal = sum(counts.get(state, 0) for state in TERMINAL_STATES)
    if terminal == 0:
        return 0, 1.0
    return terminal, counts.get(SagaState.COMPLETED.value, 0) / terminal


def count_parked_compensations(store: Store) -> int:
    """Compensations in the dead-letter queue with status ``parked``."""
    return store.parked_compensations()


def count_actor_failures(store: Store, *, since: float) -> int:
    """Messages whose handler raised (``actor_message_log.outcome = 'error'``) since ``since``."""
    return len(store.actor_errors(since))


def read_figures(
    store: Store,
    *,
    consistency_score: float,
    now: float,
    consistency_held_s: float = 0.0,
    actors: ActorSystem | None = None,
    failure_window_s: float = 300.0,
    restarts_baseline: int = 0,
    success_rate: float | None = None,
) -> Figures:
    """Read the figures from ``store`` (and ``actors``, when the system is running).

    ``consistency_score`` and ``consistency_held_s`` come from the validator.
    ``failure_window_s`` (default 300 s, the seed's 5-minute window) bounds the actor
    failures counted; ``restarts_baseline`` is subtracted from the actor system's
    restart counter (to count only restarts after a given moment). Without ``actors``,
    restarts are 0 and the tree is not failed. ``success_rate``, when given, replaces
    the store-wide ratio (the validator passes its worst-window rate, the figure its
    gate compares, so the trigger and the gate agree).
    """
    terminal, overall = saga_success(store)
    if success_rate is None:
        success_rate = overall
    restarts = 0 if actors is None else max(0, actors.restarts - restarts_baseline)
    return Figures(
        success_rate=success_rate,
        consistency_score=consistency_score,
        consistency_held_s=consistency_held_s,
        sagas_terminal=terminal,
        dead_letters_parked=count_parked_compensations(store),
        actor_restarts=restarts,
        actor_failures=count_actor_failures(store, since=now - failure_window_s),
        supervision_failed=actors is not None and actors.failed.is_set(),
    )
