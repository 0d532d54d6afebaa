"""Verdict reports: Markdown for people, JSON for machines, a row for the database."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sagacrew.agents.validator.db import SqlRunner
from sagacrew.agents.validator.errors import ReportError

if TYPE_CHECKING:
    from sagacrew.agents.validator.verdict import (
        Gate,
        RedeployOutcome,
        ScenarioOutcome,
        Verdict,
    )

MARKDOWN_NAME = "verdict.md"
JSON_NAME = "verdict.json"
MAX_LISTED_SAGAS = 50
"""The Markdown report lists at most this many failing sagas (the JSON lists all)."""


def _figure(value: float, unit: str) -> str:
    if unit == "ratio":
        return f"{value * 100:.2f} %"
    if unit == "count":
        return f"{value:.0f}"
    return f"{value:.1f} {unit}"


def _gate_row(gate: Gate) -> str:
    result = "PASS" if gate.passed else "FAIL"
    measured = _figure(gate.measured, gate.unit)
    threshold = f"{gate.comparison} {_figure(gate.threshold, gate.unit)}"
    return f"| {gate.name} | {measured} | {threshold} | {result} |"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _scenario_lines(scenarios: list[ScenarioOutcome]) -> list[str]:
    """The "Fault scenarios" section: one row per planned scenario, and what it expects."""
    lines = ["", "## Fault scenarios", ""]
    if not scenarios:
        return [*lines, "None run."]
    lines += [
        "| Scenario | Fault | Saga | What the system did | Result |",
        "| --- | --- | --- | --- | --- |",
    ]
    for outcome in scenarios:
        result = "PASS" if outcome.passed else "FAIL: " + "; ".join(outcome.unmet)
        lines.append(
            f"| {outcome.name} | {_cell(outcome.fault)} | {outcome.saga} | "
            f"{_cell(outcome.observed)} | {_cell(result)} |"
        )
    lines += ["", "Each scenario is held to:", ""]
    lines += [f"- **{o.name}**: {_cell(o.expected)}" for o in scenarios]
    return lines


def _redeploy_lines(redeploy: list[RedeployOutcome]) -> list[str]:
    """The "Redeploy" section: one row per saga type, the change and what its sagas did;
    nothing when the phase was not run."""
    if not redeploy:
        return []
    lines = [
        "",
        "## Redeploy",
        "",
        "Sagas started on the generated version, the process killed with SIGKILL, the "
        "system restarted with a changed version current: every saga must end on the plan "
        "it started on.",
        "",
        "| Saga | Versions | Change | What the sagas did | Result |",
        "| --- | --- | --- | --- | --- |",
    ]
    for outcome in redeploy:
        result = "PASS" if outcome.passed else "FAIL: " + "; ".join(outcome.unmet[:5])
        lines.append(
            f"| {outcome.saga} | {outcome.from_version} > {outcome.to_version} | "
            f"{_cell(outcome.change)} | {_cell(outcome.observed)} | {_cell(result)} |"
        )
    return lines


def render_markdown(verdict: Verdict) -> str:
    """The Markdown report: summary, gates table, checks table, fault scenarios, the
    redeploy (when run), failing sagas, lint."""
    outcome = "PASSED" if verdict.passed else "FAILED"
    lines = [
        f"# Consistency verdict: {verdict.system} ({verdict.profile})",
        "",
        f"**{outcome}**: {sum(g.passed for g in verdict.gates)} of {len(verdict.gates)} gates "
        f"passed, {len(verdict.lint_findings)} lint finding(s), "
        f"{len(verdict.failed_sagas)} failing saga(s) out of {verdict.sagas_total}.",
        "",
        "## Gates",
        "",
        "| Gate | Measured | Threshold | Result |",
        "| --- | --- | --- | --- |",
        *(_gate_row(g) for g in verdict.gates),
        "",
        "## Consistency checks",
        "",
        "| Check | Subjects | Violations | Examples |",
        "| --- | ---: | ---: | --- |",
    ]
    for check in verdict.checks:
        examples = ", ".join(f"`{_cell(v)}`" for v in check.violations[:5])
        if check.violation_count > 5:
            examples += ", ..."
        lines.append(f"| {check.name} | {check.subjects} | {check.violation_count} | {examples} |")
    lines += ["", "Each check:", ""]
    lines += [f"- **{c.name}**: {_cell(c.description)}" for c in verdict.checks]
    lines += _scenario_lines(verdict.scenarios)
    lines += _redeploy_lines(verdict.redeploy)
    lines += ["", "## Failing sagas", ""]
    if verdict.failed_sagas:
        lines += [f"- `{s}`" for s in verdict.failed_sagas[:MAX_LISTED_SAGAS]]
        hidden = len(verdict.failed_sagas) - MAX_LISTED_SAGAS
        if hidden > 0:
            lines.append(f"- ... and {hidden} more (see verdict.json)")
    else:
        lines.append("None.")
    lines += ["", "## Lint findings", ""]
    if verdict.lint_findings:
        lines += [f"- `{_cell(f)}`" for f in verdict.lint_findings]
    else:
        lines.append("None.")
    return "\n".join(lines) + "\n"


def write_reports(verdict: Verdict, out_dir: Path) -> tuple[Path, Path]:
    """Write ``verdict.md`` and ``verdict.json`` into ``out_dir`` (created if missing).

    Returns their paths, Markdown first. Raises ``ReportError`` when they cannot be
    written.
    """
    markdown_path = out_dir / MARKDOWN_NAME
    json_path = out_dir / JSON_NAME
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        markdown_path.write_text(verdict.to_markdown(), encoding="utf-8")
        json_path.write_text(verdict.to_json(), encoding="utf-8")
    except OSError as exc:
        raise ReportError(exc.filename or out_dir, exc) from exc
    return markdown_path, json_path


_FIGURE_COLUMNS = (
    "system",
    "profile",
    "sagas_total",
    "success_rate",
    "step_latency_p95_ms",
    "step_latency_p99_ms",
    "consistency_score",
)
"""The ``consistency_validations`` columns that hold the verdict's field of the same name."""


def record_verdict(db: SqlRunner, verdict: Verdict, *, now: float) -> int:
    """Insert the verdict as a ``consistency_validations`` row; returns the row's id.

    The row holds the verdict's figures (:data:`_FIGURE_COLUMNS`); ``now`` (epoch seconds)
    is ``validated_at``; ``passed`` is stored as 1 or 0 and ``report`` holds
    ``verdict.to_json()``.
    """
    figures = {column: getattr(verdict, column) for column in _FIGURE_COLUMNS}
    return db.record_validation(
        **figures, validated_at=now, passed=1 if verdict.passed else 0, report=verdict.to_json()
    )
