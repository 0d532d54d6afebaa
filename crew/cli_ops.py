"""Operations commands of ``sagacrew``: dead letters, rollback, remediation (SAGA-001..004).

``register(app)`` adds them to the main CLI::

    sagacrew dead-letters list DIR [--status parked|redriven|resolved|all]
    sagacrew dead-letters show DIR ID
    sagacrew dead-letters redrive DIR ID
    sagacrew rollback DIR [--drain-timeout-s 30] [--profile dev|prod]
    sagacrew remediate DIR [--profile dev|prod] [--drain-timeout-s 30]

Every command works on a generated system folder ``DIR`` and its store, by default the
one ``sagacrew run`` writes (``DIR/.sagacrew/runtime.db``; ``--store URL`` for another).
Reports go to ``DIR/.sagacrew/reports/``. As in the rest of the CLI, a user's mistake is
one line on stderr and exit code 2; a rollback that leaves the system paused, a redrive
that fails again, or an incident left unresolved is exit code 1. Heavy imports (the
runtime, the validator) happen inside the commands, so ``sagacrew --help`` stays fast.

``redrive``, ``rollback`` and ``remediate`` start the system on the store, which recovers
every saga in flight: run them when no other process (``sagacrew run`` or ``serve``)
drives sagas on the same store. Their pause, restart and redrive act on that system, in
this process; the written report is the lasting record (a rollback that ends STAYS
PAUSED means: start no new sagas until a later rollback ends RESUMED).

The consistency validation the operations need is the Consistency Validator's verdict on
the store (built-in and generated checks plus replay-equals-snapshot), gated on the
profile's ``consistency_score_min``: see :func:`consistency_validate` and
:func:`figures_measure`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from sagacrew.agents.validator import Verdict
    from sagacrew.crew.generated import GeneratedSystem
    from sagacrew.runtime import SagaSystem, Store
    from sagacrew.runtime.operations import Measure, TriggerPolicy, Validate

EXIT_USER_ERROR = 2
"""A mistake the user can fix (as in ``crew/cli.py``)."""
EXIT_FAILED = 1
"""The operation ran but did not succeed (as a failed verdict in ``crew/cli.py``)."""

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


class Profile(StrEnum):
    dev = "dev"
    prod = "prod"


class Status(StrEnum):
    parked = "parked"
    redriven = "redriven"
    resolved = "resolved"
    all = "all"


SystemDir = Annotated[Path, typer.Argument(help="A folder written by `sagacrew generate`.")]
StoreUrl = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="Store URL (default: the one `sagacrew run` uses, "
        "sqlite under DIR/.sagacrew/runtime.db).",
    ),
]
DrainTimeout = Annotated[
    float,
    typer.Option("--drain-timeout-s", min=0.0, help="Seconds to wait for sagas in flight."),
]
ProfileOption = Annotated[Profile, typer.Option(help="Threshold profile.")]

dead_letters = typer.Typer(
    name="dead-letters",
    help="List, show and redrive dead-lettered compensations.",
    no_args_is_help=True,
)


# --- plumbing ----------------------------------------------------------------------------


@contextmanager
def _ops_errors() -> Iterator[None]:
    """The main CLI's one-line errors, plus the operations' and the sagas' own."""
    from sagacrew.crew import cli
    from sagacrew.runtime.operations import OperationsError
    from sagacrew.runtime.saga import SagaError

    with cli._user_errors():
        try:
            yield
        except (OperationsError, SagaError) as error:
            if cli._debug:
                raise
            err.print(f"sagacrew: {error}", markup=False)
            raise typer.Exit(EXIT_USER_ERROR) from None


def default_store_url(system: GeneratedSystem) -> str:
    """The store ``sagacrew run`` writes: SQLite at ``DIR/.sagacrew/runtime.db``."""
    from sagacrew.crew.verify import sqlite_url

    return sqlite_url(system.state_dir / "runtime.db")


def _open(system_dir: Path, store: str | None) -> tuple[GeneratedSystem, str]:
    from sagacrew.crew.generated import open_generated
    from sagacrew.runtime.operations import OperationsError

    system = open_generated(system_dir)
    if store is not None:
        return system, store
    database = system.state_dir / "runtime.db"
    if not database.is_file():
        raise OperationsError(
            f"{database}: no store yet",
            fix=f"run `sagacrew run {system_dir}` first, or pass --store URL",
        )
    return system, default_store_url(system)


def _build(system: GeneratedSystem, url: str) -> SagaSystem:
    saga_system: SagaSystem = system.package.build_system(url)
    return saga_system


def _reports_dir(system: GeneratedSystem) -> Path:
    return system.state_dir / "reports"


def _profile_minimum(system: GeneratedSystem, profile: str) -> float:
    """The profile's ``consistency_score_min``; a one-line error when it has none."""
    from sagacrew.runtime.operations import OperationsError

    validation = system.blueprint.validation
    if validation is None or profile not in validation.profiles:
        known = sorted(validation.profiles) if validation is not None else []
        raise OperationsError(
            f"{system.root / 'blueprint.json'} has no {profile!r} threshold profile",
            fix=f"use one of {known}, or regenerate the system",
        )
    return validation.profiles[profile].consistency_score_min


def _verdict(system: GeneratedSystem, store: Store, profile: str) -> Verdict:
    from sagacrew.agents.validator import compute_verdict
    from sagacrew.crew.verify import replay_checks

    _profile_minimum(system, profile)
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

    The consistency score is held since the oldest of the unbroken run of passing rows
    in ``consistency_validations`` (same system and profile) that ends now.
    """
    from sagacrew.runtime.operations import Figures, consistency_held_s, read_figures

    store = saga_system.store

    def measure() -> Figures:
        verdict = _verdict(system, store, profile)
        now = time.time()
        history = [
            (float(at), float(score))
            for at, score in store.query(
                "SELECT validated_at, consistency_score FROM consistency_validations "
                "WHERE system = ? AND profile = ?",
                (system.name, profile),
            )
        ]
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
        )

    return measure


def _cell(text: object, limit: int = 80) -> Text:
    value = str(text)
    return Text(value if len(value) <= limit else value[: limit - 3] + "...")


# --- dead letters --------------------------------------------------------------------------


@dead_letters.command("list")
def list_command(
    system_dir: SystemDir,
    store: StoreUrl = None,
    status: Annotated[Status, typer.Option(help="Which dead letters.")] = Status.parked,
) -> None:
    """List dead letters (parked ones by default), oldest first."""
    with _ops_errors():
        from sagacrew.runtime import open_store
        from sagacrew.runtime.operations import list_dead_letters

        _, url = _open(system_dir, store)
        with open_store(url) as opened:
            letters = list_dead_letters(
                opened, status=None if status is Status.all else status.value
            )
        if not letters:
            which = "" if status is Status.all else f"{status.value} "
            out.print(f"no {which}dead letters in {url}", markup=False)
            return
        table = Table(title=f"{len(letters)} dead letter(s)")
        for column in ("id", "kind", "status"):
            table.add_column(column, no_wrap=True)
        table.add_column("saga", overflow="fold", min_width=8)
        table.add_column("step", no_wrap=True)
        table.add_column("attempts", no_wrap=True, justify="right")
        table.add_column("error", overflow="fold", min_width=12)
        for letter in letters:
            table.add_row(
                _cell(letter.id),
                _cell(letter.kind),
                _cell(letter.status),
                _cell(letter.saga_id or "-"),
                _cell(letter.step_name or "-"),
                _cell(letter.attempts),
                _cell(letter.error, 160),
            )
        out.print(table)


@dead_letters.command("show")
def show_command(
    system_dir: SystemDir,
    dead_letter_id: Annotated[int, typer.Argument(metavar="ID", help="The dead letter's id.")],
    store: StoreUrl = None,
) -> None:
    """Show one dead letter in full: payload, error, attempts."""
    with _ops_errors():
        from sagacrew.runtime import open_store
        from sagacrew.runtime.operations import (
            compensation_attempts,
            describe_dead_letter,
            show_dead_letter,
        )

        _, url = _open(system_dir, store)
        with open_store(url) as opened:
            letter = show_dead_letter(opened, dead_letter_id)
            attempts = compensation_attempts(opened, letter)
        out.print(describe_dead_letter(letter, attempts), markup=False)


@dead_letters.command("redrive")
def redrive_command(
    system_dir: SystemDir,
    dead_letter_id: Annotated[int, typer.Argument(metavar="ID", help="The dead letter's id.")],
    store: StoreUrl = None,
    wait_timeout_s: Annotated[
        float,
        typer.Option("--wait-timeout-s", min=0.0, help="Seconds to wait for its saga first."),
    ] = 30.0,
) -> None:
    """Run a parked compensation again (starting the system recovers sagas in flight)."""
    with _ops_errors():
        from sagacrew.runtime.operations import check_redrivable, redrive_dead_letter

        system, url = _open(system_dir, store)
        saga_system = _build(system, url)
        try:
            check_redrivable(saga_system.store, dead_letter_id)

            async def go() -> tuple[list[str], bool, str]:
                recovered = await saga_system.start()
                try:
                    outcome = await redrive_dead_letter(
                        saga_system, dead_letter_id, wait_timeout_s=wait_timeout_s
                    )
                finally:
                    await saga_system.stop()
                return recovered, outcome.succeeded, outcome.summary()

            recovered, succeeded, summary = asyncio.run(go())
        finally:
            saga_system.store.close()
        if recovered:
            out.print(f"recovered {len(recovered)} saga(s) in flight", markup=False)
        if not succeeded:
            err.print(f"sagacrew: {summary}", markup=False)
            raise typer.Exit(EXIT_FAILED)
        out.print(summary, markup=False)


# --- rollback and remediation --------------------------------------------------------------


def rollback_command(
    system_dir: SystemDir,
    store: StoreUrl = None,
    drain_timeout_s: DrainTimeout = 30.0,
    profile: ProfileOption = Profile.dev,
) -> None:
    """The seed's rollback: pause, drain, restore from snapshots, re-validate, resume."""
    with _ops_errors():
        from sagacrew.runtime.operations import RollbackReport, rollback

        system, url = _open(system_dir, store)
        _profile_minimum(system, profile.value)
        saga_system = _build(system, url)
        try:
            validate = consistency_validate(system, saga_system.store, profile.value)

            async def go() -> tuple[list[str], RollbackReport]:
                recovered = await saga_system.start()
                try:
                    report = await rollback(
                        saga_system,
                        drain_timeout_s=drain_timeout_s,
                        validate=validate,
                        report_dir=_reports_dir(system),
                    )
                finally:
                    await saga_system.stop()
                return recovered, report

            recovered, report = asyncio.run(go())
        finally:
            saga_system.store.close()
        if recovered:
            out.print(f"recovered {len(recovered)} saga(s) in flight", markup=False)
        table = Table(title=f"{system.name}: rollback")
        for column in ("step", "outcome", "detail"):
            table.add_column(column)
        for step in report.steps:
            table.add_row(_cell(step.name), _cell(step.outcome.upper()), _cell(step.detail, 200))
        out.print(table)
        out.print(f"report: {report.markdown_path} and {report.json_path}", markup=False)
        if report.resumed:
            out.print(f"RESUMED: {report.reason}", markup=False)
            return
        out.print(
            f"STAYS PAUSED: {report.reason}. Start no new sagas on this store until a "
            "rollback ends RESUMED.",
            markup=False,
        )
        raise typer.Exit(EXIT_FAILED)


def remediate_command(
    system_dir: SystemDir,
    store: StoreUrl = None,
    profile: ProfileOption = Profile.dev,
    drain_timeout_s: DrainTimeout = 30.0,
) -> None:
    """Evaluate SAGA-001..004 on the store's figures and remediate each firing once."""
    with _ops_errors():
        from sagacrew.runtime.operations import (
            IncidentReport,
            TriggerFiring,
            TriggerPolicy,
            evaluate_triggers,
            remediate,
        )

        system, url = _open(system_dir, store)
        policy = TriggerPolicy.for_profile(profile.value, _profile_minimum(system, profile.value))
        saga_system = _build(system, url)
        try:
            measure = figures_measure(system, saga_system, profile.value, policy)

            async def go() -> tuple[list[TriggerFiring], list[IncidentReport]]:
                await saga_system.start()
                try:
                    firings = evaluate_triggers(measure(), policy)
                    reports = [
                        await remediate(
                            saga_system,
                            firing,
                            measure=measure,
                            report_dir=_reports_dir(system),
                            drain_timeout_s=drain_timeout_s,
                        )
                        for firing in firings
                    ]
                finally:
                    await saga_system.stop()
                return firings, reports

            firings, reports = asyncio.run(go())
        finally:
            saga_system.store.close()
        if not firings:
            out.print(f"{system.name}: no trigger fired ({profile.value})", markup=False)
            return
        table = Table(title=f"{system.name}: triggers ({profile.value})")
        for column in ("trigger", "title", "reason", "result"):
            table.add_column(column)
        for report in reports:
            if report.is_completion:
                result = "COMPLETE" if report.resolved else "NOT CONFIRMED"
            else:
                result = "RESOLVED" if report.resolved else "NOT RESOLVED"
            table.add_row(
                _cell(report.trigger),
                _cell(report.title),
                _cell(report.reason, 120),
                _cell(result),
            )
        out.print(table)
        for report in reports:
            out.print(
                f"{report.trigger}: {report.markdown_path} and {report.json_path}", markup=False
            )
        unresolved = [r.trigger for r in reports if not r.resolved and not r.is_completion]
        if unresolved:
            out.print(f"NOT RESOLVED: {', '.join(unresolved)}", markup=False)
            raise typer.Exit(EXIT_FAILED)


def register(app: typer.Typer) -> None:
    """Add ``dead-letters`` (list, show, redrive), ``rollback`` and ``remediate`` to ``app``.

    Idempotent: registering twice adds nothing the second time.
    """
    if any(group.name == "dead-letters" for group in app.registered_groups):
        return
    app.add_typer(dead_letters, name="dead-letters")
    app.command("rollback")(rollback_command)
    app.command("remediate")(remediate_command)
