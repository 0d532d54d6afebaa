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

from dataclasses import dataclass

from sagacrew.agents.generated import GeneratedSystem
from sagacrew.agents.validator import write_reports
from sagacrew.agents.validator.verification.isolation_checks import (
    lost_updates,
    orphaned_external_work,
)
from sagacrew.agents.validator.verification.store_verdict import (
    ReportedVerdict,
    check_profile,
    judged_verdict,
    lint_generated,
)
from sagacrew.runtime import open_store

__all__ = ["Judgement", "judge_store"]


@dataclass(frozen=True)
class Judgement(ReportedVerdict):
    """The verdict over a store's history, where its reports are, and the sagas judged."""

    by_state: dict[str, int]


def judge_store(system: GeneratedSystem, store_url: str, *, profile: str = "dev") -> Judgement:
    """The verdict over the sagas ``system`` recorded in ``store_url`` (see the module)."""
    check_profile(system, profile)
    findings = lint_generated(system)
    store = open_store(store_url)
    try:
        isolation = [lost_updates(system, store), orphaned_external_work(system, store)]
        verdict = judged_verdict(
            system,
            store,
            profile=profile,
            extra=isolation,
            lint_findings=findings,
            blocking=[check.name for check in isolation],
        )
        by_state = store.saga_state_counts()
    finally:
        store.close()
    reports = system.state_dir / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    md, js = write_reports(verdict, reports)
    return Judgement(verdict, md, js, dict(sorted(by_state.items())))
