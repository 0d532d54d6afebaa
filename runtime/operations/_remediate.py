"""Bounded remediation of a fired trigger: diagnose, remediate once, re-validate, report.

``remediate`` diagnoses from the tables, applies ONE bounded remediation, re-validates
and writes a report naming what was found, what was done, and the figures before and
after:

- SAGA-001: resume every unfinished saga not being driven (``recover``: replay from the
  step log) once, and wait for the unfinished sagas up to ``drain_timeout_s``;
- SAGA-002: redrive every parked compensation once;
- SAGA-003: pause new sagas, drain (bounded), restart the supervision tree once, resume;
- SAGA-004: nothing to repair: the completion report.

Nothing loops: each action runs at most once per call, and an action that fails is
recorded (never swallowed) and leaves the incident unresolved. The actions are in
``_remedies``, the report in ``_incident``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from sagacrew.runtime.operations._access import orchestrator_of
from sagacrew.runtime.operations._figures import Figures, count_actor_failures
from sagacrew.runtime.operations._incident import IncidentReport as IncidentReport
from sagacrew.runtime.operations._incident import outcome_line
from sagacrew.runtime.operations._remedies import (
    RemediationLog,
    compensations,
    completion,
    supervision,
    transaction_failures,
)
from sagacrew.runtime.operations._triggers import TITLES, TriggerFiring, evaluate_triggers
from sagacrew.runtime.system import SagaSystem

logger = logging.getLogger("sagacrew.runtime.operations")

Measure = Callable[[], Figures]
"""``measure()``: re-validate and read the figures now (see :func:`read_figures`)."""


async def remediate(
    system: SagaSystem,
    firing: TriggerFiring,
    *,
    measure: Measure,
    report_dir: Path | None = None,
    drain_timeout_s: float = 30.0,
    clock: Callable[[], float] = time.time,
) -> IncidentReport:
    """Diagnose ``firing`` on the started ``system``, remediate once, re-validate, report.

    ``measure`` re-runs the validation and reads the figures (called once, after the
    remediation). ``report_dir``, when given, receives the Markdown and JSON reports.
    ``drain_timeout_s`` (default 30 s) bounds every wait for sagas. ``clock`` stamps the
    report. Raises :class:`SystemNotStartedError` when the system is not started; every
    other failure is recorded in the report, which then says the incident is unresolved.
    """
    orchestrator_of(system, f"remediating {firing.trigger}")
    opened_at = clock()
    log = RemediationLog(system.name, firing.trigger)
    logger.warning(
        "%s %s: %s", firing.trigger, firing.title, firing.reason, extra={"system": system.name}
    )
    restart_at: float | None = None
    restarts_baseline = 0
    try:
        if firing.trigger == "SAGA-001":
            await transaction_failures(system, log, drain_timeout_s, clock)
        elif firing.trigger == "SAGA-002":
            await compensations(system, log, drain_timeout_s)
        elif firing.trigger == "SAGA-003":
            restart_at = await supervision(system, log, firing, drain_timeout_s, clock)
            restarts_baseline = system.actors.restarts
        else:
            completion(log, firing)
    except Exception as error:
        logger.exception("%s remediation raised", firing.trigger)
        log.did(f"the remediation raised {type(error).__name__}: {error}", ok=False)
    try:
        after = measure()
    except Exception as error:
        logger.exception("re-validation raised")
        log.did(f"re-validation raised {type(error).__name__}: {error}", ok=False)
        after = firing.figures
    if restart_at is not None:
        after = replace(
            after,
            actor_restarts=max(0, system.actors.restarts - restarts_baseline),
            actor_failures=count_actor_failures(system.store, since=restart_at),
            supervision_failed=system.actors.failed.is_set(),
        )
    still = {f.trigger for f in evaluate_triggers(after, firing.policy)}
    holds = firing.trigger in still
    resolved = (holds if firing.trigger == "SAGA-004" else not holds) and not log.failed
    report = IncidentReport(
        system=system.name,
        trigger=firing.trigger,
        title=TITLES[firing.trigger],
        reason=firing.reason,
        opened_at=opened_at,
        closed_at=clock(),
        found=tuple(log.found),
        done=tuple(log.done),
        before=firing.figures,
        after=after,
        resolved=resolved,
        outcome=outcome_line(firing, after, resolved, log.failed),
    )
    if report_dir is not None:
        report = report.write(report_dir)
        logger.info("%s report written to %s", firing.trigger, report.markdown_path)
    return report
