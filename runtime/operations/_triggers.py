"""The seed's triggers SAGA-001..004 as pure rules over measured :class:`Figures`.

- **SAGA-001** transaction failure detected: success rate below
  ``TriggerPolicy.success_rate_min`` (default 0.95; ``remediate`` passes the chosen
  profile's ``success_rate_min``, the number ``verify`` gates on), over at least one
  terminal saga;
- **SAGA-002** compensation required: a compensation failed after its retries and sits
  parked in the dead-letter queue;
- **SAGA-003** actor supervision failure: a supervision tree exceeded its restart
  intensity (or a child escalated to its top), or actor restarts or failures exceed
  their bounds;
- **SAGA-004** consistency verified: the consistency score is at or above the profile
  minimum and has stayed there for ``consistency_window_s`` (a completion report, not
  an incident).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from sagacrew.runtime.operations._figures import Figures

TriggerId = Literal["SAGA-001", "SAGA-002", "SAGA-003", "SAGA-004"]

TITLES: dict[TriggerId, str] = {
    "SAGA-001": "transaction failure detected",
    "SAGA-002": "compensation required",
    "SAGA-003": "actor supervision failure",
    "SAGA-004": "consistency verified",
}
"""The seed's name of each trigger."""

REMEDIATIONS: dict[TriggerId, str] = {
    "SAGA-001": "recover and replay the unfinished sagas once, then re-validate",
    "SAGA-002": "redrive each parked compensation once, then re-validate",
    "SAGA-003": "restart the failing supervision tree once, then re-validate",
    "SAGA-004": "write the completion report",
}
"""What ``remediate`` does for each trigger (bounded: every action at most once)."""

PROD_CONSISTENCY_WINDOW_S = 24 * 3600.0
"""The seed's SAGA-004 window for production: consistency held for 24 hours."""


@dataclass(frozen=True)
class TriggerPolicy:
    """The bounds the triggers compare figures with."""

    success_rate_min: float = 0.95
    """SAGA-001 fires below it: the original spec's "transaction success rate < 95 %"
    (:meth:`for_profile` takes the profile's)."""
    consistency_score_min: float = 0.95
    """SAGA-004 needs the score at or above it (the default is the ``dev`` profile's)."""
    consistency_window_s: float = 0.0
    """For how long SAGA-004 needs the score held."""
    max_actor_restarts: int = 10
    """SAGA-003 fires above it."""
    max_actor_failures: int = 10
    """SAGA-003 fires when more handler failures than this were logged within
    ``failure_window_s``."""
    failure_window_s: float = 300.0
    """The window of ``max_actor_failures`` (the default is the seed's 5 minutes)."""

    @classmethod
    def for_profile(
        cls, profile: str, consistency_score_min: float, success_rate_min: float = 0.95
    ) -> TriggerPolicy:
        """The policy of a threshold profile: its ``consistency_score_min`` and
        ``success_rate_min`` (so SAGA-001 fires exactly when ``verify``'s success-rate
        gate fails under the same profile); ``prod`` holds SAGA-004 for 24 hours, any
        other profile needs the score only once."""
        window_s = PROD_CONSISTENCY_WINDOW_S if profile == "prod" else 0.0
        return cls(
            success_rate_min=success_rate_min,
            consistency_score_min=consistency_score_min,
            consistency_window_s=window_s,
        )


@dataclass(frozen=True)
class TriggerFiring:
    """A trigger that fired: which, why (one line with the figures), and on what figures."""

    trigger: TriggerId
    reason: str
    figures: Figures
    policy: TriggerPolicy

    @property
    def title(self) -> str:
        return TITLES[self.trigger]

    @property
    def remediation(self) -> str:
        return REMEDIATIONS[self.trigger]


def _pct(ratio: float) -> str:
    return f"{ratio * 100:.2f} %"


def saga_001(figures: Figures, policy: TriggerPolicy) -> str | None:
    """Why SAGA-001 fires, or ``None``."""
    if figures.sagas_terminal > 0 and figures.success_rate < policy.success_rate_min:
        return (
            f"transaction success rate {_pct(figures.success_rate)} < "
            f"{_pct(policy.success_rate_min)} over {figures.sagas_terminal} terminal sagas"
        )
    return None


def saga_002(figures: Figures, policy: TriggerPolicy) -> str | None:
    """Why SAGA-002 fires, or ``None``."""
    if figures.dead_letters_parked > 0:
        return (
            f"{figures.dead_letters_parked} compensation(s) failed after their retries and "
            "are parked in the dead-letter queue"
        )
    return None


def saga_003(figures: Figures, policy: TriggerPolicy) -> str | None:
    """Why SAGA-003 fires, or ``None``."""
    reasons = []
    if figures.supervision_failed:
        reasons.append("a supervision tree exceeded its restart intensity and is down")
    if figures.actor_restarts > policy.max_actor_restarts:
        reasons.append(
            f"{figures.actor_restarts} actor restarts > bound {policy.max_actor_restarts}"
        )
    if figures.actor_failures > policy.max_actor_failures:
        reasons.append(
            f"{figures.actor_failures} actor failures in {policy.failure_window_s:.0f} s > "
            f"bound {policy.max_actor_failures}"
        )
    return "; ".join(reasons) or None


def saga_004(figures: Figures, policy: TriggerPolicy) -> str | None:
    """Why SAGA-004 fires, or ``None``."""
    if figures.consistency_score < policy.consistency_score_min:
        return None
    if figures.consistency_held_s < policy.consistency_window_s:
        return None
    held = (
        f" held for {figures.consistency_held_s:.0f} s (window {policy.consistency_window_s:.0f} s)"
        if policy.consistency_window_s > 0
        else ""
    )
    return (
        f"consistency score {_pct(figures.consistency_score)} >= "
        f"{_pct(policy.consistency_score_min)}{held}"
    )


Rule = Callable[[Figures, TriggerPolicy], "str | None"]
"""``rule(figures, policy)``: why the trigger fires, or ``None``."""

_RULES: tuple[tuple[TriggerId, Rule], ...] = (
    ("SAGA-001", saga_001),
    ("SAGA-002", saga_002),
    ("SAGA-003", saga_003),
    ("SAGA-004", saga_004),
)


def evaluate_triggers(figures: Figures, policy: TriggerPolicy | None = None) -> list[TriggerFiring]:
    """Every trigger that fires on ``figures``, in order SAGA-001..SAGA-004.

    Pure: no I/O, the same figures always give the same firings. ``policy`` defaults to
    ``TriggerPolicy()`` (the seed's numbers, ``dev`` consistency minimum).
    """
    rules = policy or TriggerPolicy()
    firings: list[TriggerFiring] = []
    for trigger, rule in _RULES:
        reason = rule(figures, rules)
        if reason is not None:
            firings.append(TriggerFiring(trigger, reason, figures, rules))
    return firings
