"""The consistency validation and the figures the operations need, from the validator.

``consistency_validate`` is the rollback's ``validate`` and ``figures_measure`` the
triggers' ``measure``: both run the Consistency Validator's verdict on the store
(built-in and generated checks plus replay-equals-snapshot), gated on the profile's
``consistency_score_min`` from the generated system's blueprint.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sagacrew.agents.generated import GeneratedSystem
    from sagacrew.agents.spec import Thresholds
    from sagacrew.agents.validator import Verdict
    from sagacrew.runtime import SagaSystem, Store
    from sagacrew.runtime.operations import Measure, TriggerPolicy, Validate


def profile_thresholds(system: GeneratedSystem, profile: str) -> Thresholds:
    """The profile's thresholds (what ``verify`` gates on); a one-line error when the
    blueprint has no such profile."""
    from sagacrew.runtime.operations import OperationsError

    validation = system.blueprint.validation
    if validation is None or profile not in validation.profiles:
        known = sorted(validation.profiles) if validation is not None else []
        raise OperationsError(
            f"{system.root / 'blueprint.json'} has no {profile!r} threshold profile",
            fix=f"use one of {known}, or regenerate the system",
        )
    return validation.profiles[profile]


def profile_minimum(system: GeneratedSystem, profile: str) -> float:
    """The profile's ``consistency_score_min``; a one-line error when it has none."""
    return profile_thresholds(system, profile).consistency_score_min


def trigger_policy(system: GeneratedSystem, profile: str) -> TriggerPolicy:
    """The SAGA-001..004 policy of ``profile``: its success-rate and consistency
    minimums, the same numbers ``verify`` gates on."""
    from sagacrew.runtime.operations import TriggerPolicy

    thresholds = profile_thresholds(system, profile)
    return TriggerPolicy.for_profile(
        profile,
        thresholds.consistency_score_min,
        success_rate_min=thresholds.success_rate_min,
    )


def _verdict(system: GeneratedSystem, store: Store, profile: str) -> Verdict:
    """The Consistency Validator's verdict on ``store`` under ``profile``'s thresholds."""
    from sagacrew.agents.validator import compute_verdict
    from sagacrew.agents.validator.verification.store_verdict import replay_checks

    profile_minimum(system, profile)
    validation = system.blueprint.validation
    assert validation is not None
    return compute_verdict(
        store,
        system=system.name,
        profile=profile,
        thresholds=validation.profiles[profile],
        queries=validation.queries,
        extra_checks=replay_checks(system, store),
        now=time.time(),
    )


def consistency_validate(system: GeneratedSystem, store: Store, profile: str) -> Validate:
    """The rollback's ``validate``: the validator's verdict on ``store``, passed when the
    consistency score reaches the profile's ``consistency_score_min``.

    Only the consistency gate decides: success rate and latency describe the sagas run
    before the rollback, which the rollback cannot change.
    """
    from sagacrew.runtime.operations import Validation

    def validate() -> Validation:
        verdict = _verdict(system, store, profile)
        gate = next(g for g in verdict.gates if g.name == "consistency_score")
        violations = sum(c.violation_count for c in verdict.checks)
        failing = [c.name for c in verdict.checks if c.violation_count]
        detail = (
            f"consistency score {gate.measured * 100:.2f} % {'>=' if gate.passed else '<'} "
            f"{gate.threshold * 100:.2f} % ({profile}); {len(verdict.checks)} checks, "
            f"{violations} violation(s)"
        )
        if failing:
            detail += f" in {', '.join(failing)}"
        return Validation(gate.passed, detail)

    return validate


def figures_measure(
    system: GeneratedSystem, saga_system: SagaSystem, profile: str, policy: TriggerPolicy
) -> Measure:
    """The triggers' ``measure``: validator verdict plus the store's and actors' figures.

    The success rate is the verdict's (worst 5-minute window), the figure ``verify``'s
    gate compares with the same profile's ``success_rate_min``.

    The consistency score is held since the oldest of the unbroken run of passing rows
    in ``consistency_validations`` (same system and profile) that ends now.
    """
    from sagacrew.runtime.operations import Figures, consistency_held_s, read_figures

    store = saga_system.store

    def measure() -> Figures:
        verdict = _verdict(system, store, profile)
        now = time.time()
        history = store.consistency_history(system.name, profile)
        held = consistency_held_s(
            history,
            minimum=policy.consistency_score_min,
            now=now,
            current=verdict.consistency_score,
        )
        return read_figures(
            store,
            consistency_score=verdict.consistency_score,
            consistency_held_s=held,
            actors=saga_system.actors,
            now=now,
            failure_window_s=policy.failure_window_s,
            success_rate=verdict.success_rate,
        )

    return measure
