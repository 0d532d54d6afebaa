"""Judge what a deployed system recorded: the verdict over real history, no workload.

``verify`` proves a generated system against its sandbox: it runs workloads of its own.
Once the system runs against its real external services (its gateways' ``perform``
plugged in, completions arriving at ``POST /api/events``), ``judge_store`` gives the same
verdict over the store that system wrote: the lint, the validation queries, replay equals
snapshot, the spec's system invariants and the isolation checks (no lost update, no
orphaned external work: every external call a compensated saga made was undone, also when
its reply was lost or its completion came late), gated against the profile. Nothing is
run and nothing is written to the store but the verdict's ``consistency_validations`` row.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from sagacrew.agents.generated import GeneratedSystem
from sagacrew.agents.validator import (
    Verdict,
    compute_verdict,
    lint_path,
    load_taxonomy,
    record_verdict,
    write_reports,
)
from sagacrew.agents.validator.verification.isolation_checks import (
    lost_updates,
    orphaned_external_work,
)
from sagacrew.agents.validator.verification.verify import (
    replay_checks,
    system_invariant_checks,
)
from sagacrew.runtime import open_store

__all__ = ["Judgement", "judge_store"]


@dataclass(frozen=True)
class Judgement:
    """The verdict over a store's history, where its reports are, and the sagas judged."""

    verdict: Verdict
    report_md: Path
    report_json: Path
    by_state: dict[str, int]


def judge_store(system: GeneratedSystem, store_url: str, *, profile: str = "dev") -> Judgement:
    """The verdict over the sagas ``system`` recorded in ``store_url`` (see the module)."""
    validation = system.blueprint.validation
    assert validation is not None
    if profile not in validation.profiles:
        known = ", ".join(sorted(validation.profiles))
        raise ValueError(f"unknown profile {profile!r}; use one of {known}")
    findings = lint_path(
        system.root / system.name, taxonomy=load_taxonomy(system.root / "taxonomy.json")
    )
    store = open_store(store_url)
    try:
        isolation = [lost_updates(system, store), orphaned_external_work(system, store)]
        checks = [
            *replay_checks(system, store),
            *system_invariant_checks(system, store),
            *isolation,
        ]
        now = time.time()
        verdict = compute_verdict(
            store,
            system=system.name,
            profile=profile,
            thresholds=validation.profiles[profile],
            queries=validation.queries,
            extra_checks=checks,
            lint_findings=[str(f) for f in findings],
            blocking=[check.name for check in isolation],
            now=now,
        )
        record_verdict(store, verdict, now=now)
        by_state = store.saga_state_counts()
    finally:
        store.close()
    reports = system.state_dir / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    md, js = write_reports(verdict, reports)
    return Judgement(verdict, md, js, dict(sorted(by_state.items())))
