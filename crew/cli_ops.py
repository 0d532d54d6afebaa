"""Operations commands of ``sagacrew``: dead letters, rollback, remediation (SAGA-001..004).

``register(app)`` adds them to the main CLI::

    sagacrew dead-letters list DIR [--status parked|redrive_requested|redriven|resolved|all]
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
:func:`figures_measure` (in ``agents/validator/verification/ops_checks.py``).

This module holds ``rollback``, ``remediate`` and ``register``; the ``dead-letters`` group
is in ``crew/cli_dead_letters.py`` and the plumbing shared with the other operations
commands in ``crew/cli_ops_common.py`` (its names stay importable from here).
"""

from __future__ import annotations

import typer
from rich.table import Table

from sagacrew.agents.validator.verification.ops_checks import (
    consistency_validate as consistency_validate,
)
from sagacrew.agents.validator.verification.ops_checks import figures_measure as figures_measure
from sagacrew.agents.validator.verification.ops_checks import profile_minimum, trigger_policy
from sagacrew.crew.cli_dead_letters import Status as Status
from sagacrew.crew.cli_dead_letters import dead_letters as dead_letters
from sagacrew.crew.cli_ops_common import EXIT_FAILED as EXIT_FAILED
from sagacrew.crew.cli_ops_common import EXIT_USER_ERROR as EXIT_USER_ERROR
from sagacrew.crew.cli_ops_common import DrainTimeout as DrainTimeout
from sagacrew.crew.cli_ops_common import Profile as Profile
from sagacrew.crew.cli_ops_common import ProfileOption as ProfileOption
from sagacrew.crew.cli_ops_common import StoreUrl as StoreUrl
from sagacrew.crew.cli_ops_common import SystemDir as SystemDir
from sagacrew.crew.cli_ops_common import _build as _build
from sagacrew.crew.cli_ops_common import _built as _built
from sagacrew.crew.cli_ops_common import _cell as _cell
from sagacrew.crew.cli_ops_common import _open as _open
from sagacrew.crew.cli_ops_common import _ops_errors as _ops_errors
from sagacrew.crew.cli_ops_common import _reports_dir as _reports_dir
from sagacrew.crew.cli_ops_common import _while_started as _while_started
from sagacrew.crew.cli_ops_common import default_store_url as default_store_url
from sagacrew.crew.cli_ops_common import err as err
from sagacrew.crew.cli_ops_common import out as out

# --- rollback and remediation --------------------------------------------------------------


def rollback_command(
    system_dir: SystemDir,
    store: StoreUrl = None,
    drain_timeout_s: DrainTimeout = 30.0,
    profile: ProfileOption = Profile.dev,
) -> None:
    """Roll back to a consistent state: pause, drain, restore snapshots, re-validate, resume."""
    with _ops_errors():
        from sagacrew.runtime.operations import rollback

        system, url = _open(system_dir, store)
        profile_minimum(system, profile.value)
        with _built(system, url) as saga_system:
            validate = consistency_validate(system, saga_system.store, profile.value)
            recovered, report = _while_started(
                saga_system,
                lambda: rollback(
                    saga_system,
                    drain_timeout_s=drain_timeout_s,
                    validate=validate,
                    report_dir=_reports_dir(system),
                ),
            )
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
    """Check triggers SAGA-001..004 against the profile's thresholds; remediate each once.

    SAGA-001 fires below the profile's success_rate_min, exactly when `verify`'s
    success-rate gate fails on the same store."""
    with _ops_errors():
        from sagacrew.runtime.operations import (
            IncidentReport,
            TriggerFiring,
            evaluate_triggers,
            remediate,
        )

        system, url = _open(system_dir, store)
        policy = trigger_policy(system, profile.value)
        with _built(system, url) as saga_system:
            measure = figures_measure(system, saga_system, profile.value, policy)

            async def remediate_firings() -> tuple[list[TriggerFiring], list[IncidentReport]]:
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
                return firings, reports

            _, (firings, reports) = _while_started(saga_system, remediate_firings)
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
