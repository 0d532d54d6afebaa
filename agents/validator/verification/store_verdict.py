"""The verdict over a store, whoever filled it: the checks every verdict runs (replay
equals snapshot, the spec's system invariants), the lint of the generated package, and the
one call that computes and records the verdict. ``verify`` uses it after its workloads;
``judge_store`` over a deployed system's history."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sagacrew.agents.generated import GeneratedSystem
from sagacrew.agents.validator import (
    CheckResult,
    RedeployOutcome,
    ScenarioOutcome,
    Verdict,
    compute_verdict,
    lint_path,
    load_taxonomy,
    record_verdict,
)
from sagacrew.runtime import Store
from sagacrew.runtime.invariants import Conserved, References, check_system_invariants
from sagacrew.runtime.replay_check import check_streams

__all__ = [
    "ReportedVerdict",
    "check_profile",
    "judged_verdict",
    "lint_generated",
    "replay_checks",
    "system_invariant_checks",
]


@dataclass(frozen=True)
class ReportedVerdict:
    """A verdict and where its reports were written (``verdict.md``, ``verdict.json``)."""

    verdict: Verdict
    report_md: Path
    report_json: Path


def replay_checks(system: GeneratedSystem, store: Store) -> list[CheckResult]:
    """The runtime's replay check (:mod:`sagacrew.runtime.replay_check`) as two verdict
    checks: live state rebuilt by replay keeps every invariant (a stream that cannot be
    replayed counts as a violation), and equals each stored snapshot."""
    replay = check_streams(actor_class(store) for actor_class in system.definition.aggregates)
    return [
        CheckResult(
            name="replayed_state_keeps_invariants",
            description="Every live aggregate rebuilt by replay keeps the spec's invariants.",
            subjects=replay.live + replay.error_count,
            violations=[*replay.broken, *replay.errors][:20],
            violation_count=replay.broken_count + replay.error_count,
        ),
        CheckResult(
            name="replay_equals_snapshot",
            description="State rebuilt by replay equals the stored snapshot at its version.",
            subjects=replay.snapshots,
            violations=list(replay.mismatches),
            violation_count=replay.mismatch_count,
        ),
    ]


def system_invariant_checks(system: GeneratedSystem, store: Store) -> list[CheckResult]:
    """The spec's system invariants (conservation, references) over the store's state."""
    assert system.blueprint.validation is not None
    invariants = [
        Conserved(i.name, tuple(i.conserved), i.description)
        if i.conserved is not None
        else References(i.name, str(i.each), str(i.exists), i.description)
        for i in system.blueprint.validation.invariants
    ]
    outcomes = check_system_invariants(store, system.definition.aggregates, invariants)
    return [
        CheckResult(
            name=f"system_invariant_{outcome.name}",
            description=outcome.description,
            subjects=outcome.subjects,
            violations=outcome.violations[:20],
            violation_count=len(outcome.violations),
        )
        for outcome in outcomes
    ]


def check_profile(system: GeneratedSystem, profile: str) -> None:
    """Refuse a profile the blueprint has no thresholds for."""
    assert system.blueprint.validation is not None
    if profile not in system.blueprint.validation.profiles:
        known = ", ".join(sorted(system.blueprint.validation.profiles))
        raise ValueError(f"unknown profile {profile!r}; use one of {known}")


def lint_generated(system: GeneratedSystem) -> list[str]:
    """The lint findings of the generated package, against its taxonomy."""
    taxonomy = load_taxonomy(system.root / "taxonomy.json")
    return [str(f) for f in lint_path(system.root / system.name, taxonomy=taxonomy)]


def judged_verdict(
    system: GeneratedSystem,
    store: Store,
    *,
    profile: str,
    extra: Sequence[CheckResult],
    lint_findings: Sequence[str],
    blocking: Sequence[str],
    scenarios: Sequence[ScenarioOutcome] = (),
    redeploy: Sequence[RedeployOutcome] = (),
) -> Verdict:
    """The verdict over ``store``: ``extra`` checks, then replay and the spec's system
    invariants, gated against ``profile``; recorded in ``consistency_validations``."""
    validation = system.blueprint.validation
    assert validation is not None
    now = time.time()
    verdict = compute_verdict(
        store,
        system=system.name,
        profile=profile,
        thresholds=validation.profiles[profile],
        queries=validation.queries,
        extra_checks=[
            *extra,
            *replay_checks(system, store),
            *system_invariant_checks(system, store),
        ],
        lint_findings=lint_findings,
        blocking=blocking,
        scenarios=scenarios,
        redeploy=redeploy,
        now=now,
    )
    record_verdict(store, verdict, now=now)
    return verdict
