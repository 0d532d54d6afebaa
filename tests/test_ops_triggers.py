"""SAGA-001..004 as pure rules: each trigger firing and not firing, table-driven."""

from __future__ import annotations

from dataclasses import replace

import pytest

from sagacrew.runtime.operations import PROD_CONSISTENCY_WINDOW_S
from sagacrew.runtime.operations import Figures
from sagacrew.runtime.operations import TriggerPolicy
from sagacrew.runtime.operations import consistency_held_s
from sagacrew.runtime.operations import evaluate_triggers

HEALTHY = Figures(
    success_rate=1.0,
    consistency_score=1.0,
    consistency_held_s=0.0,
    sagas_terminal=100,
    dead_letters_parked=0,
    actor_restarts=0,
    actor_failures=0,
    supervision_failed=False,
)
"""Every figure fine: only SAGA-004 (consistency verified) fires."""

POLICY = TriggerPolicy()


def fired(figures: Figures, policy: TriggerPolicy = POLICY) -> list[str]:
    return [firing.trigger for firing in evaluate_triggers(figures, policy)]


def test_healthy_figures_fire_only_the_completion_trigger() -> None:
    assert fired(HEALTHY) == ["SAGA-004"]


@pytest.mark.parametrize(
    ("success_rate", "terminal", "fires"),
    [
        (0.9499, 100, True),
        (0.5, 100, True),
        (0.95, 100, False),
        (0.999, 100, False),
        (0.0, 0, False),
    ],
    ids=["just-below-95", "half", "exactly-95", "above", "no-terminal-saga"],
)
def test_saga_001_fires_when_success_rate_is_below_95_percent(
    success_rate: float, terminal: int, fires: bool
) -> None:
    figures = replace(HEALTHY, success_rate=success_rate, sagas_terminal=terminal)
    assert ("SAGA-001" in fired(figures)) is fires


def test_saga_001_reason_names_the_rate_and_the_bound() -> None:
    firings = evaluate_triggers(replace(HEALTHY, success_rate=0.9))
    (firing,) = [f for f in firings if f.trigger == "SAGA-001"]
    assert "90.00 %" in firing.reason and "95.00 %" in firing.reason
    assert firing.title == "transaction failure detected"


@pytest.mark.parametrize(("parked", "fires"), [(0, False), (1, True), (7, True)])
def test_saga_002_fires_when_a_compensation_is_parked(parked: int, fires: bool) -> None:
    assert ("SAGA-002" in fired(replace(HEALTHY, dead_letters_parked=parked))) is fires


@pytest.mark.parametrize(
    ("restarts", "failures", "tree_failed", "fires"),
    [
        (0, 0, False, False),
        (0, 0, True, True),
        (10, 0, False, False),
        (11, 0, False, True),
        (0, 10, False, False),
        (0, 11, False, True),
    ],
    ids=[
        "quiet",
        "tree-failed",
        "restarts-at-bound",
        "restarts-above-bound",
        "failures-at-bound",
        "failures-above-bound",
    ],
)
def test_saga_003_fires_on_escalation_or_restarts_or_failures_above_their_bounds(
    restarts: int, failures: int, tree_failed: bool, fires: bool
) -> None:
    figures = replace(
        HEALTHY, actor_restarts=restarts, actor_failures=failures, supervision_failed=tree_failed
    )
    assert ("SAGA-003" in fired(figures)) is fires


def test_saga_003_bounds_come_from_the_policy() -> None:
    strict = TriggerPolicy(max_actor_restarts=0, max_actor_failures=0)
    assert "SAGA-003" in fired(replace(HEALTHY, actor_restarts=1), strict)
    assert "SAGA-003" in fired(replace(HEALTHY, actor_failures=1), strict)


@pytest.mark.parametrize(
    ("score", "held_s", "policy", "fires"),
    [
        (0.95, 0.0, TriggerPolicy(consistency_score_min=0.95), True),
        (0.9499, 0.0, TriggerPolicy(consistency_score_min=0.95), False),
        (0.9995, 0.0, TriggerPolicy.for_profile("prod", 0.999), False),
        (0.9995, PROD_CONSISTENCY_WINDOW_S, TriggerPolicy.for_profile("prod", 0.999), True),
        (0.998, PROD_CONSISTENCY_WINDOW_S, TriggerPolicy.for_profile("prod", 0.999), False),
        (0.96, 0.0, TriggerPolicy.for_profile("dev", 0.95), True),
    ],
    ids=[
        "dev-at-minimum",
        "dev-below",
        "prod-not-held-24h",
        "prod-held-24h",
        "prod-below",
        "dev-profile-needs-no-window",
    ],
)
def test_saga_004_fires_when_consistency_reaches_the_minimum_for_the_window(
    score: float, held_s: float, policy: TriggerPolicy, fires: bool
) -> None:
    figures = replace(HEALTHY, consistency_score=score, consistency_held_s=held_s)
    assert ("SAGA-004" in fired(figures, policy)) is fires


def test_every_trigger_can_fire_at_once_in_order() -> None:
    figures = Figures(
        success_rate=0.5,
        consistency_score=0.99,
        sagas_terminal=10,
        dead_letters_parked=2,
        supervision_failed=True,
    )
    assert fired(figures) == ["SAGA-001", "SAGA-002", "SAGA-003", "SAGA-004"]


def test_evaluation_is_pure_the_same_figures_give_the_same_firings() -> None:
    figures = replace(HEALTHY, success_rate=0.5, dead_letters_parked=1)
    assert evaluate_triggers(figures) == evaluate_triggers(figures)


def test_prod_policy_holds_consistency_for_24_hours_and_dev_for_no_time() -> None:
    assert TriggerPolicy.for_profile("prod", 0.999).consistency_window_s == 24 * 3600.0
    assert TriggerPolicy.for_profile("dev", 0.95).consistency_window_s == 0.0


@pytest.mark.parametrize(
    ("history", "current", "held"),
    [
        ([], 0.99, 0.0),
        ([], 0.90, 0.0),
        ([(100.0, 0.99), (400.0, 0.99)], 0.99, 900.0),
        ([(100.0, 0.99), (300.0, 0.90), (600.0, 0.99)], 0.99, 400.0),
        ([(100.0, 0.99), (600.0, 0.99)], 0.90, 0.0),
        ([(600.0, 0.99), (100.0, 0.99), (2000.0, 0.10)], 0.99, 900.0),
    ],
    ids=[
        "no-history",
        "below-now",
        "held-since-oldest",
        "broken-run",
        "current-below",
        "unordered-and-future-rows",
    ],
)
def test_consistency_is_held_since_the_oldest_row_of_the_unbroken_passing_run(
    history: list[tuple[float, float]], current: float, held: float
) -> None:
    assert consistency_held_s(history, minimum=0.95, now=1000.0, current=current) == held
