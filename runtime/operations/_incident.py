"""The incident report of a remediation (a completion report for SAGA-004).

:class:`IncidentReport` holds what was found, what was done and the figures before and
after; it is written as Markdown for people and as stable JSON. :func:`outcome_line` says
in one line what is left to do.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sagacrew.runtime.operations._figures import Figures
from sagacrew.runtime.operations._files import SystemReport, utc, write_report
from sagacrew.runtime.operations._triggers import TriggerFiring, TriggerId


@dataclass(frozen=True)
class IncidentReport(SystemReport):
    """What a remediation found, did and achieved.

    ``found`` and ``done`` are one line each; ``before`` are the figures the trigger
    fired on, ``after`` those measured once the remediation finished. ``resolved``: the
    trigger no longer fires on ``after`` (for SAGA-004: it still holds). ``outcome`` says
    in one line what is left to do.
    """

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

    @property
    def is_completion(self) -> bool:
        """True for SAGA-004's completion report (not an incident)."""
        return self.trigger == "SAGA-004"

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
        return write_report(self, directory, stem, self.opened_at)


def _md(text: str) -> str:
    """One Markdown line: line breaks become spaces."""
    return text.replace("\n", " ")


def outcome_line(firing: TriggerFiring, after: Figures, resolved: bool, failed: bool) -> str:
    """The report's outcome: whether the trigger is resolved and, if not, what to do next."""
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
