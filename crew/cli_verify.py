"""``sagacrew verify``: the Consistency Validator's whole proof of a generated system."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from sagacrew.crew.cli_base import EXIT_FAILED, Profile, _user_errors, err, out

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import TaskID

    from sagacrew.agents.validator import Verdict


def verify(
    system_dir: Annotated[Path, typer.Argument(help="A folder written by `generate`.")],
    profile: Annotated[Profile, typer.Option(help="Threshold profile.")] = Profile.dev,
    store: Annotated[
        str | None,
        typer.Option(metavar="URL", help="Store URL for the run (default: a fresh SQLite file)."),
    ] = None,
    skip_tests: Annotated[
        bool, typer.Option("--skip-tests", help="Do not run the generated test suite.")
    ] = False,
    skip_crash: Annotated[
        bool, typer.Option("--skip-crash", help="Do not run the kill -9 and restart phase.")
    ] = False,
    skip_contention: Annotated[
        bool,
        typer.Option(
            "--skip-contention", help="Do not run the shared-aggregates contention phase."
        ),
    ] = False,
    skip_scenarios: Annotated[
        bool,
        typer.Option("--skip-scenarios", help="Do not run the fault plan's scenarios."),
    ] = False,
    skip_redeploy: Annotated[
        bool,
        typer.Option(
            "--skip-redeploy",
            help="Do not run the kill, redeploy-with-a-changed-saga and restart phase.",
        ),
    ] = False,
    judge_store: Annotated[
        str | None,
        typer.Option(
            metavar="URL",
            help="Run nothing: judge the sagas a deployed system recorded in this store URL "
            "(its real external services, completions by webhook).",
        ),
    ] = None,
) -> None:
    """Lint, test, fault-inject and check the generated system; print the verdict."""
    with _user_errors():
        from sagacrew.agents.generated import open_generated
        from sagacrew.agents.validator.verification.judge import judge_store as judge
        from sagacrew.agents.validator.verification.verify import verify as run_verify

        system = open_generated(system_dir)
        if judge_store is not None:
            judged = judge(system, judge_store, profile=profile.value)
            _print_verdict(judged.verdict, profile.value)
            out.print(f"sagas judged: {sum(judged.by_state.values())} {judged.by_state}")
            out.print(f"report: {judged.report_md} and {judged.report_json}", markup=False)
            _print_outcome(judged.verdict, profile.value)
            return
        with PhaseProgress(err) as progress:
            result = run_verify(
                system,
                profile=profile.value,
                store_url=store,
                run_tests=not skip_tests,
                crash_run=not skip_crash,
                contention_run=not skip_contention,
                scenario_run=not skip_scenarios,
                redeploy_run=not skip_redeploy,
                progress=progress,
            )
        verdict = result.verdict
        _print_verdict(verdict, profile.value)
        out.print(f"sagas run: {result.workload.total} {dict(result.workload.by_state)}")
        if result.crash is not None:
            crash = result.crash
            out.print(
                f"kill -9 after {crash.ended_before_kill} sagas ended; on restart "
                f"{crash.recovered} in flight resumed: {crash.by_state}"
            )
        if result.contention is not None:
            out.print(
                f"contention: {len(result.contention.results)} concurrent sagas over shared "
                f"aggregates: {result.contention.by_state}"
            )
        for moved in verdict.redeploy:
            out.print(
                f"redeploy {moved.saga} {moved.from_version} > {moved.to_version}: "
                f"{moved.observed}",
                markup=False,
            )
        out.print(f"report: {result.report_md} and {result.report_json}", markup=False)
        for saga in system.blueprint.sagas.sagas if system.blueprint.sagas else []:
            svg = system_dir / "flowcharts" / f"{saga.name}.svg"
            shown = svg if svg.exists() else svg.with_suffix(".dot")
            out.print(f"flowchart: {shown}", markup=False)
        _print_outcome(verdict, profile.value)


class PhaseProgress:
    """``verify``'s ``progress(phase, done, total)``: a line on ``console`` as each phase
    starts and one as it ends (with its duration), and a live bar for phases of many
    parts (the workload's sagas, the fault scenarios) while they run.

    The lines stay when the output is not a terminal (a CI log); the bar does not."""

    def __init__(self, console: Console) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self._bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self._console = console
        self._tasks: dict[str, TaskID] = {}
        self._started: dict[str, float] = {}
        self._ended: set[str] = set()

    def __enter__(self) -> PhaseProgress:
        self._bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.__exit__(None, None, None)

    def __call__(self, phase: str, done: int, total: int) -> None:
        if phase not in self._started:
            self._started[phase] = time.monotonic()
            parts = f" ({total})" if total > 1 else ""
            self._console.print(f"{len(self._started)}. {phase}{parts}...", markup=False)
            if total > 1:
                self._tasks[phase] = self._bar.add_task(phase, total=total)
        if phase in self._tasks:
            self._bar.update(self._tasks[phase], completed=done)
        if done >= total and phase not in self._ended:
            self._ended.add(phase)
            if phase in self._tasks:
                self._bar.remove_task(self._tasks.pop(phase))
            took = time.monotonic() - self._started[phase]
            self._console.print(f"   {phase}: done in {took:.1f} s", markup=False)


def _print_verdict(verdict: Verdict, profile: str) -> None:
    """The gates as a table, then each failing check, scenario and lint finding."""
    from rich.table import Table

    table = Table(title=f"{verdict.system}: verdict against the {profile} profile")
    for column in ("gate", "measured", "threshold", ""):
        table.add_column(column)
    for gate in verdict.gates:
        table.add_row(
            gate.name,
            _figure(gate.measured, gate.unit),
            f"{gate.comparison} {_figure(gate.threshold, gate.unit)}",
            "[green]PASS[/]" if gate.passed else "[red]FAIL[/]",
        )
    out.print(table)
    for check in verdict.checks:
        if check.violation_count:
            out.print(f"[red]check {check.name}: {check.violation_count} violation(s)[/]")
            for violation in check.violations[:3]:
                out.print(f"  {violation}", markup=False)
    for scenario in verdict.scenarios:
        if not scenario.passed:
            unmet = "; ".join(scenario.unmet)
            out.print(f"scenario {scenario.name}: {unmet}", style="red", markup=False)
    for moved in verdict.redeploy:
        for unmet in moved.unmet[:3]:
            out.print(f"redeploy {moved.saga}: {unmet}", style="red", markup=False)
    for finding in verdict.lint_findings:
        out.print(f"lint: {finding}", style="red", markup=False)


def _print_outcome(verdict: Verdict, profile: str) -> None:
    """``VERDICT: PASS``, or ``FAIL`` with the failed gates (exit 1)."""
    if verdict.passed:
        out.print(f"[bold green]VERDICT: PASS[/] ({profile})")
        return
    failed = [g.name for g in verdict.gates if not g.passed]
    if verdict.lint_findings:
        failed.append("lint")
    out.print(f"[bold red]VERDICT: FAIL[/] ({profile}): {', '.join(failed)}")
    if verdict.failed_sagas:
        out.print(f"sagas that broke it: {', '.join(verdict.failed_sagas[:10])}")
    raise typer.Exit(EXIT_FAILED)


def _figure(value: float, unit: str) -> str:
    if unit == "ratio":
        return f"{value:.2%}"
    return f"{value:.0f}" if unit == "count" else f"{value:.4g} {unit}"
