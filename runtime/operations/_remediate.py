"""Bounded remediation of a fired trigger, and the incident (or completion) report.

``remediate`` diagnoses from the tables, applies ONE bounded remediation, re-validates
and writes a report naming what was found, what was done, and the figures before and
after:

- SAGA-001: resume every unfinished saga not being driven (``recover``: replay from the
  step log) once, and wait for the unfinished sagas up to ``drain_timeout_s``;
- SAGA-002: redrive every parked compensation once;
- SAGA-003: pause new sagas, drain (bounded), restart the supervision tree once, resume;
- SAGA-004: nothing to repair: the completion report.

Nothing loops: each action runs at most once per call, and an action that fails is
recorded (never swallowed) and leaves the incident unresolved.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from sagacrew.runtime.operations._access import orchestrator_of, supervision_plan, supervisor_of
from sagacrew.runtime.operations._dead_letters import redrive_dead_letter
from sagacrew.runtime.operations._diagnose import (
    actor_failures,
    describe_letter,
    describe_unfinished,
    failed_saga_groups,
    parked_compensations,
    unfinished_sagas,
)
from sagacrew.runtime.operations._errors import OperationsError
from sagacrew.runtime.operations._figures import Figures, count_actor_failures
from sagacrew.runtime.operations._files import utc, write_pair
from sagacrew.runtime.operations._restore import restart_supervision_tree
from sagacrew.runtime.operations._triggers import (
    TITLES,
    TriggerFiring,
    TriggerId,
    evaluate_triggers,
)
from sagacrew.runtime.saga import SagaError
from sagacrew.runtime.system import SagaSystem

logger = logging.getLogger("sagacrew.runtime.operations")

Measure = Callable[[], Figures]
"""``measure()``: re-validate and read the figures now (see :func:`read_figures`)."""


@dataclass(frozen=True)
class IncidentReport:
    """What a remediation found, did and achieved.

    ``found`` and ``done`` are one line each; ``before`` are the figures the trigger
    fired on, ``after`` those measured once the remediation finished. ``resolved``: the
    trigger no longer fires on ``after`` (for SAGA-004: it still holds). ``outcome`` says
    in one line what is left to do. The paths are set once the report is written.
    """

    system: str
    trigger: TriggerId
    title: str
    reason: str
    opened_at: float
    closed_at: float
    found: tuple[str, ...]
    done: tuple[str, ...]
    before: Figures
    after: Figures
    resolved: bool
    outcome: str
    markdown_path: Path | None = None
    json_path: Path | None = None

    @property
    def is_completion(self) -> bool:
        """True for SAGA-004's completion report (not an incident)."""
        return self.trigger == "SAGA-004"

    def to_dict(self) -> dict[str, Any]:
        """Plain data (paths as strings)."""
        data = asdict(self)
        data["markdown_path"] = None if self.markdown_path is None else str(self.markdown_path)
        data["json_path"] = None if self.json_path is None else str(self.json_path)
        return data

    def to_json(self) -> str:
        """Stable JSON: sorted keys, two-space indent, trailing newline."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    def to_markdown(self) -> str:
        """The report for people: trigger, found, done, figures before/after, outcome."""
        if self.is_completion:
            heading = f"# Completion report {self.trigger}: {self.title} ({self.system})"
            status = "CONSISTENCY VERIFIED" if self.resolved else "NOT CONFIRMED"
        else:
            heading = f"# Incident {self.trigger}: {self.title} ({self.system})"
            status = "RESOLVED" if self.resolved else "NOT RESOLVED"
        lines = [
            heading,
            "",
            f"Opened {utc(self.opened_at)}, closed {utc(self.closed_at)}.",
            "",
            f"**{status}**: {self.outcome}",
            "",
            "## Trigger",
            "",
            self.reason,
            "",
            "## Found",
            "",
            *(f"- {_md(line)}" for line in self.found or ("nothing",)),
            "",
            "## Done",
            "",
            *(f"{n}. {_md(line)}" for n, line in enumerate(self.done or ("nothing",), 1)),
            "",
            "## Figures",
            "",
            "| Figure | Before | After |",
            "| --- | ---: | ---: |",
        ]
        for (label, before), (_, after) in zip(self.before.rows(), self.after.rows(), strict=True):
            lines.append(f"| {label} | {before} | {after} |")
        return "\n".join(lines) + "\n"

    def write(self, directory: Path) -> IncidentReport:
        """Write the Markdown and JSON reports in ``directory``; return the report with
        its paths set (``incident-SAGA-00N-<stamp>`` or ``completion-SAGA-004-<stamp>``)."""
        stem = f"{'completion' if self.is_completion else 'incident'}-{self.trigger}"
        md, js = write_pair(directory, stem, self.opened_at, self.to_markdown(), "")
        written = replace(self, markdown_path=md, json_path=js)
        js.write_text(written.to_json(), "utf-8")
        return written


def _md(text: str) -> str:
    return text.replace("\n", " ")


class _Log:
    def __init__(self, system: str, trigger: TriggerId) -> None:
        self.system = system
        self.trigger = trigger
        self.found: list[str] = []
        self.done: list[str] = []
        self.failed = False

    def find(self, line: str) -> None:
        self.found.append(line)
        logger.info("%s found: %s", self.trigger, line, extra={"system": self.system})

    def did(self, line: str, *, ok: bool = True) -> None:
        self.done.append(line if ok else f"FAILED: {line}")
        self.failed = self.failed or not ok
        logger.log(
            logging.INFO if ok else logging.ERROR,
            "%s done: %s",
            self.trigger,
            line,
            extra={"system": self.system},
        )


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
    log = _Log(system.name, firing.trigger)
    logger.warning(
        "%s %s: %s", firing.trigger, firing.title, firing.reason, extra={"system": system.name}
    )
    restart_at: float | None = None
    restarts_baseline = 0
    try:
        if firing.trigger == "SAGA-001":
            await _transaction_failures(system, log, drain_timeout_s, clock)
        elif firing.trigger == "SAGA-002":
            await _compensations(system, log, drain_timeout_s)
        elif firing.trigger == "SAGA-003":
            restart_at = await _supervision(system, log, firing, drain_timeout_s, clock)
            restarts_baseline = system.actors.restarts
        else:
            _completion(log, firing)
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
        outcome=_outcome(firing, after, resolved, log.failed),
    )
    if report_dir is not None:
        report = report.write(report_dir)
        logger.info("%s report written to %s", firing.trigger, report.markdown_path)
    return report


def _outcome(firing: TriggerFiring, after: Figures, resolved: bool, failed: bool) -> str:
    trigger = firing.trigger
    if trigger == "SAGA-004":
        if resolved:
            return "the consistency score holds at the profile minimum: the stage is complete"
        return (
            f"the consistency score is {after.consistency_score * 100:.2f} % now, not at or "
            f"above {firing.policy.consistency_score_min * 100:.2f} % for the window: not "
            "complete yet"
        )
    if resolved:
        return "the trigger no longer fires on the figures measured after the remediation"
    why = "an action failed (see Done); " if failed else ""
    if trigger == "SAGA-001":
        return (
            f"{why}the success rate is {after.success_rate * 100:.2f} % after the "
            "remediation: the remaining failures are terminal outcomes (see Found); fix their "
            "cause and watch the next runs"
        )
    if trigger == "SAGA-002":
        return (
            f"{why}{after.dead_letters_parked} compensation(s) still parked: fix the cause "
            "their error names, then `sagacrew dead-letters redrive DIR ID`"
        )
    return (
        f"{why}actors still fail after one restart of the supervision tree: fix the failing "
        "actor (see Found), or raise its supervisor's intensity if the failures are expected"
    )


async def _transaction_failures(
    system: SagaSystem, log: _Log, drain_timeout_s: float, clock: Callable[[], float]
) -> None:
    orchestrator = orchestrator_of(system, "remediating SAGA-001")
    groups = failed_saga_groups(system.store)
    for group in groups:
        log.find(group.describe())
    stalled = sum(g.count for g in groups if g.state == "stalled")
    if stalled:
        log.find(
            f"{stalled} stalled saga(s) are past their pivot: they cannot be compensated and "
            "are not retried automatically; an operator must finish their step"
        )
    unfinished = unfinished_sagas(system.store)
    now = clock()
    for saga in unfinished[:20]:
        log.find(describe_unfinished(saga, now))
    if len(unfinished) > 20:
        log.find(f"... and {len(unfinished) - 20} more unfinished saga(s)")
    if not groups and not unfinished:
        log.find("no failed or unfinished saga in the tables")
    try:
        resumed = await orchestrator.recover()
    except SagaError as error:
        log.did(f"recovering the unfinished sagas raised: {error}", ok=False)
        return
    if resumed:
        log.did(f"resumed {len(resumed)} unfinished saga(s) from their step log: {resumed[:10]}")
    elif unfinished:
        log.did("recover(): every unfinished saga was already being driven (none to resume)")
    else:
        log.did(
            "recover(): no unfinished saga to resume; the failures are terminal outcomes, "
            "which nothing retries automatically"
        )
    if not unfinished and not resumed:
        return
    left = await orchestrator.drain(drain_timeout_s)
    ids = {saga.saga_id for saga in unfinished} | set(resumed)
    states: dict[str, int] = {}
    for saga_id in sorted(ids):
        row = system.store.get_saga(saga_id)
        if row is not None:
            states[row.state] = states.get(row.state, 0) + 1
    summary = ", ".join(f"{n} {state}" for state, n in sorted(states.items()))
    log.did(
        f"waited up to {drain_timeout_s:g} s for the {len(ids)} unfinished saga(s): {summary}",
        ok=left == 0,
    )


async def _compensations(system: SagaSystem, log: _Log, drain_timeout_s: float) -> None:
    letters = parked_compensations(system.store)
    for letter in letters:
        log.find(describe_letter(letter))
    if not letters:
        log.find("no parked compensation in the dead-letter queue")
    for letter in letters:
        assert letter.id is not None
        try:
            outcome = await redrive_dead_letter(system, letter.id, wait_timeout_s=drain_timeout_s)
        except (OperationsError, SagaError) as error:
            log.did(f"dead letter {letter.id} was not redriven: {error}", ok=False)
            continue
        log.did(f"redrove once: {outcome.summary()}", ok=outcome.succeeded)


async def _supervision(
    system: SagaSystem,
    log: _Log,
    firing: TriggerFiring,
    drain_timeout_s: float,
    clock: Callable[[], float],
) -> float:
    """Diagnose, then restart the tree once; returns when the restart happened."""
    actors = system.actors
    figures, policy = firing.figures, firing.policy
    plan = supervision_plan(system)
    failure = actors.failure
    if failure is not None:
        log.find(f"supervision tree {plan.name!r} is down: {type(failure).__name__}: {failure}")
    if figures.actor_restarts:
        log.find(f"{figures.actor_restarts} actor restart(s) since the system started")
    window_s = policy.failure_window_s
    for failures in actor_failures(system.store, since=clock() - window_s):
        supervisor = supervisor_of(plan, failures.actor) or plan.name
        log.find(
            f"actor {failures.actor!r} (supervisor {supervisor!r}) failed "
            f"{failures.count} time(s) in the last {window_s:g} s; latest: "
            f"{failures.latest_error}"
        )
    orchestrator = orchestrator_of(system, "remediating SAGA-003")
    was_paused = orchestrator.paused
    orchestrator.pause()
    left = await orchestrator.drain(drain_timeout_s)
    if left:
        log.did(
            f"paused new sagas; {left} saga(s) still in flight after {drain_timeout_s:g} s "
            "(their steps see a transient failure during the restart and are retried)"
        )
    else:
        log.did("paused new sagas and drained the sagas in flight")
    restart_at = clock()
    try:
        restart = await restart_supervision_tree(system)
    except Exception as error:
        logger.exception("restarting the supervision tree failed")
        log.did(f"restarting supervision tree {plan.name!r} raised {error!r}", ok=False)
    else:
        log.did(
            f"restarted supervision tree {restart.root!r} once: {len(restart.alive)} actor(s) "
            f"running{'' if restart.ok else f', not running: {list(restart.dead)}'}",
            ok=restart.ok,
        )
    if not was_paused:
        orchestrator.resume()
        log.did("resumed new sagas")
    return restart_at


def _completion(log: _Log, firing: TriggerFiring) -> None:
    figures = firing.figures
    log.find(firing.reason)
    others = [f for f in evaluate_triggers(figures, firing.policy) if f.trigger != "SAGA-004"]
    for other in others:
        log.find(f"still open: {other.trigger} {other.title}: {other.reason}")
    log.did("wrote the completion report with the figures measured")
