"""Run a generated system and judge it: the Consistency Validator's verify half.

``run_workload`` executes every saga type ``n`` times under the generated fault plan.
``verify`` does what a reviewer would: lint the generated code for the seed's defects,
run the generated test suite, run a fault-injected workload on a fresh store (then a
crash, contention, the fault scenarios and a redeploy beside it), check the
validation SQL and the replay checks over the runtime's own tables, and compute the
verdict against the chosen profile. It writes ``verdict.md`` and ``verdict.json``, the
run's Prometheus metrics (``metrics.prom``, node-exporter textfile format), a row in
``consistency_validations``, and says whether every gate passed.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from xml.etree import ElementTree

from sagacrew.agents.generated import GeneratedSystem
from sagacrew.agents.validator import (
    CheckResult,
    RedeployOutcome,
    ScenarioOutcome,
    write_reports,
)
from sagacrew.agents.validator.verification.contention import (
    ContentionPlan,
    ContentionRun,
    contention_checks,
    contention_store_url,
    run_contention,
)
from sagacrew.agents.validator.verification.fault_scenarios import run_fault_scenarios
from sagacrew.agents.validator.verification.killed_run import kill_midway
from sagacrew.agents.validator.verification.redeploy import run_redeploy
from sagacrew.agents.validator.verification.store_verdict import (
    ReportedVerdict,
    check_profile,
    judged_verdict,
    lint_generated,
    system_invariant_checks,
)
from sagacrew.runtime import RuntimeMetrics, SagaResult, WorkloadReport

Progress = Callable[[str, int, int], None]
"""``progress(phase, done, total)``."""


def sqlite_url(path: Path) -> str:
    """``sqlite://`` plus the absolute path (the runtime reads the rest as the file path)."""
    return f"sqlite://{path.resolve()}"


async def _workload(
    system: GeneratedSystem,
    store_url: str,
    sagas_per_type: int,
    duplicate_rate: float,
    id_prefix: str | None,
    on_done: Callable[[SagaResult], None] | None,
    metrics: RuntimeMetrics | None,
) -> WorkloadReport:
    saga_system = system.definition(
        store_url,
        faults=system.workload_faults(),
        duplicate_delivery_rate=duplicate_rate,
        lost_reply_rate=system.workload.lost_reply_rate,
        metrics=metrics,
    )
    async with saga_system:
        return await saga_system.run_workload(
            system.definition.saga_inputs,
            sagas_per_type=sagas_per_type,
            id_prefix=id_prefix,
            on_done=on_done,
        )


def run_workload(
    system: GeneratedSystem,
    store_url: str,
    *,
    sagas_per_type: int | None = None,
    duplicate_rate: float | None = None,
    id_prefix: str | None = None,
    on_done: Callable[[SagaResult], None] | None = None,
    metrics: RuntimeMetrics | None = None,
) -> WorkloadReport:
    """Run every saga type ``sagas_per_type`` times with the generated fault plan.

    ``id_prefix`` makes saga ids (and so the injected faults) reproducible; ``metrics``
    collects the run's Prometheus metrics.
    """
    n = sagas_per_type or system.workload.sagas_per_type
    if duplicate_rate is None:
        duplicate_rate = system.workload.duplicate_delivery_rate
    return asyncio.run(_workload(system, store_url, n, duplicate_rate, id_prefix, on_done, metrics))


@dataclass(frozen=True)
class CrashRecovery:
    """What the crash-and-restart run did: sagas ended before the kill, and resumed after."""

    ended_before_kill: int
    recovered: int
    by_state: dict[str, int]


def crash_and_recover(
    system: GeneratedSystem,
    store_url: str,
    *,
    sagas_per_type: int,
    metrics: RuntimeMetrics | None = None,
) -> CrashRecovery:
    """Run a workload in a child process killed with SIGKILL midway, then restart the
    system on the same store here and wait for every saga it finds in flight."""
    total = sagas_per_type * len(system.definition.sagas)
    kill_after = max(1, min(total - 1, round(total * system.workload.crash_after)))
    kill_midway(system, store_url, sagas_per_type=sagas_per_type, kill_after=kill_after)

    async def restart() -> list[SagaResult]:
        saga_system = system.definition(store_url, faults=system.workload_faults(), metrics=metrics)
        async with saga_system:
            assert saga_system.orchestrator is not None
            return [
                await saga_system.orchestrator.wait(saga_id) for saga_id in saga_system.recovered
            ]

    results = asyncio.run(restart())
    by_state: dict[str, int] = {}
    for result in results:
        by_state[str(result.state)] = by_state.get(str(result.state), 0) + 1
    return CrashRecovery(kill_after, len(results), dict(sorted(by_state.items())))


def check_contention(
    system: GeneratedSystem, store_url: str, plan: ContentionPlan
) -> tuple[ContentionRun, list[CheckResult]]:
    """Run the contention workload beside ``store_url``; its checks, named ``contention_*``."""
    url = contention_store_url(store_url)
    run = run_contention(system, url, plan)
    from sagacrew.runtime import open_store

    store = open_store(url)
    try:
        checks = contention_checks(system, store) + system_invariant_checks(system, store)
    finally:
        store.close()
    return run, [replace(check, name=f"contention_{check.name}") for check in checks]


def run_generated_tests(system: GeneratedSystem, report_dir: Path) -> CheckResult:
    """Run the generated pytest suite in a child process; each failed test is a violation."""
    junit = (report_dir / "generated-tests.xml").resolve()
    junit.unlink(missing_ok=True)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            f"--junitxml={junit}",
            str((system.root / "tests").resolve()),
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=system.root,
    )
    failed: list[str] = []
    subjects = 0
    if junit.is_file():
        for case in ElementTree.parse(junit).getroot().iter("testcase"):
            subjects += 1
            if case.find("failure") is not None or case.find("error") is not None:
                failed.append(case.get("name", "?"))
    if done.returncode not in (0, 1) or not junit.is_file():
        tail = (done.stdout + done.stderr).strip().splitlines()[-1:] or ["no output"]
        failed.append(f"pytest exited with {done.returncode}: {tail[0]}")
        subjects += 1
    return CheckResult(
        name="generated_tests_pass",
        description="The generated test suite passes against the runtime.",
        subjects=subjects,
        violations=failed[:20],
        violation_count=len(failed),
    )


@dataclass(frozen=True)
class Verification(ReportedVerdict):
    """The verdict of ``verify``, its reports, and what its workloads did."""

    workload: WorkloadReport
    crash: CrashRecovery | None = None
    contention: ContentionRun | None = None


def verify(
    system: GeneratedSystem,
    *,
    profile: str = "dev",
    store_url: str | None = None,
    run_tests: bool = True,
    crash_run: bool = True,
    contention_run: bool = True,
    scenario_run: bool = True,
    redeploy_run: bool = True,
    progress: Progress | None = None,
) -> Verification:
    """Lint, test, fault-inject, check, score: the whole verdict for ``system``.

    The fault-injected workload meets the generated fault plan (step failures, business
    refusals, failing compensations, duplicate deliveries, lost replies and so timeouts);
    with ``crash_run`` a second workload runs in a process killed with SIGKILL midway and
    is restarted here, so the checks also cover sagas recovered after a crash. With
    ``contention_run``, a third workload runs many concurrent sagas over a few shared
    aggregates with timeouts and late completions (:mod:`.contention`) in a
    store of its own; its isolation checks and the system invariants over it are
    blocking gates: a lost update or orphaned external work fails the verdict. With
    ``scenario_run``, every scenario of the blueprint's fault plan runs as a targeted
    experiment in stores of its own (:mod:`.fault_scenarios`); each is
    listed in the verdict with its outcome, and a failed one fails it. With
    ``redeploy_run``, a workload killed midway is restarted with a changed version of
    every saga current (:mod:`.redeploy`): each saga must end on the plan it started on,
    or the ``redeploy_keeps_plans`` gate fails.
    """
    blueprint = system.blueprint
    assert blueprint.validation is not None
    check_profile(system, profile)
    state_dir = system.state_dir
    (state_dir / "reports").mkdir(parents=True, exist_ok=True)
    step = progress or (lambda phase, done, total: None)

    step("lint", 0, 1)
    findings = lint_generated(system)
    step("lint", 1, 1)
    extra: list[CheckResult] = []
    if run_tests:
        step("generated tests", 0, 1)
        extra.append(run_generated_tests(system, state_dir / "reports"))
        step("generated tests", 1, 1)

    if store_url is None:
        database = state_dir / f"verify-{profile}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(str(database) + suffix).unlink(missing_ok=True)
        store_url = sqlite_url(database)
    total = blueprint.validation.workload.sagas_per_type * len(system.definition.sagas)
    finished = 0

    def tick(_: SagaResult) -> None:
        nonlocal finished
        finished += 1
        step("fault-injected workload", finished, total)

    metrics = RuntimeMetrics()
    workload = run_workload(system, store_url, id_prefix="verify", on_done=tick, metrics=metrics)
    crash: CrashRecovery | None = None
    if crash_run:
        step("crash and restart", 0, 1)
        per_type = max(2, blueprint.validation.workload.sagas_per_type // 4)
        crash = crash_and_recover(system, store_url, sagas_per_type=per_type, metrics=metrics)
        step("crash and restart", 1, 1)

    contention_extra: list[CheckResult] = []
    contention: ContentionRun | None = None
    if contention_run:
        plan = ContentionPlan(sagas_per_type=blueprint.validation.workload.sagas_per_type)
        step("contention", 0, 1)
        contention, contention_extra = check_contention(system, store_url, plan)
        extra += contention_extra
        step("contention", 1, 1)

    scenarios: list[ScenarioOutcome] = []
    if scenario_run:
        scenarios = run_fault_scenarios(
            system, store_url, progress=lambda done, n: step("fault scenarios", done, n)
        )

    redeploy: list[RedeployOutcome] = []
    if redeploy_run:
        step("redeploy", 0, 1)
        redeploy = run_redeploy(system, store_url)
        step("redeploy", 1, 1)

    from sagacrew.runtime import open_store

    store = open_store(store_url)
    try:
        step("consistency checks", 0, 1)
        verdict = judged_verdict(
            system,
            store,
            profile=profile,
            extra=extra,
            lint_findings=findings,
            blocking=["generated_tests_pass", *(c.name for c in contention_extra)],
            scenarios=scenarios,
            redeploy=redeploy,
        )
        step("consistency checks", 1, 1)
    finally:
        store.close()
    md, js = write_reports(verdict, state_dir / "reports")
    metrics.set_consistency_score(system.name, verdict.consistency_score)
    metrics.write_textfile(state_dir / "reports" / "metrics.prom")
    return Verification(verdict, md, js, workload, crash, contention)
