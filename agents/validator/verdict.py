"""The verdict: the seed's three metrics and the consistency checks, against thresholds.

``compute_verdict`` reads the runtime's tables through a ``SqlRunner`` (see ``metrics``
for how each figure is defined), runs every ``ValidationQuery``, and gates the figures
against a threshold profile:

- ``success_rate`` >= ``Thresholds.success_rate_min``;
- ``step_latency_p95_ms`` <= ``Thresholds.step_latency_p95_ms_max``;
- ``step_latency_p99_ms`` <= ``Thresholds.step_latency_p99_ms_max``;
- ``consistency_score`` >= ``Thresholds.consistency_score_min``;
- ``fault_scenarios``: no scenario of the fault plan failed (when scenarios were run);
- ``redeploy_keeps_plans``: across a redeploy, no saga type had a saga run a plan other
  than the one it started on (when the redeploy phase was run).

The verdict passes when every gate passes and the lint found nothing.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from sagacrew.agents.blueprint import ValidationQuery
from sagacrew.agents.spec.model import Thresholds
from sagacrew.agents.validator.db import SqlRunner
from sagacrew.agents.validator.errors import CheckQueryError
from sagacrew.agents.validator.metrics import (
    consistency_score,
    read_census,
    worst_window_percentile,
)
from sagacrew.agents.validator.report import render_markdown

MAX_LISTED_VIOLATIONS = 20
"""A check keeps at most this many violation subjects; ``violation_count`` counts all."""


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one consistency check.

    ``subjects`` is how many things were checked; ``violations`` the first
    ``MAX_LISTED_VIOLATIONS`` violating subjects (first column, as text) and
    ``violation_count`` all of them.
    """

    name: str
    description: str
    subjects: int
    violations: list[str]
    violation_count: int = -1
    """Defaults to ``len(violations)`` when not given (or negative)."""

    def __post_init__(self) -> None:
        if self.violation_count < 0:
            object.__setattr__(self, "violation_count", len(self.violations))

    @property
    def passed(self) -> bool:
        return self.violation_count == 0


@dataclass(frozen=True)
class Gate:
    """One figure against its threshold: ``measured <comparison> threshold``."""

    name: str
    measured: float
    threshold: float
    comparison: Literal[">=", "<="]
    passed: bool
    unit: str
    """``"ratio"`` (0..1) or ``"ms"``."""


@dataclass(frozen=True)
class ScenarioOutcome:
    """One planned fault scenario, run as a targeted experiment, and what came of it.

    ``fault`` says what was injected (into ``step`` of ``saga``, in the sagas
    ``saga_ids``), ``expected`` what the plan holds the system to, ``observed`` what the
    system did; ``unmet`` lists each expectation it did not meet (empty when ``passed``).
    """

    name: str
    kind: str
    saga: str
    step: str | None
    fault: str
    expected: str
    observed: str
    passed: bool
    saga_ids: list[str] = field(default_factory=list)
    unmet: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RedeployOutcome:
    """One saga type across a redeploy: sagas started on version ``from_version``, the
    process killed, the system restarted with ``to_version`` current (``change`` says
    what differs, or why a part of the change could not be made for this saga).

    ``observed`` says what the sagas did; ``unmet`` lists each saga that did not keep
    its plan, or did not end (empty when ``passed``).
    """

    saga: str
    from_version: str
    to_version: str
    change: str
    observed: str
    passed: bool
    unmet: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Verdict:
    """Everything the validator concluded about one system under one profile."""

    system: str
    profile: str
    sagas_total: int
    success_rate: float
    step_latency_p95_ms: float
    step_latency_p99_ms: float
    consistency_score: float
    gates: list[Gate]
    checks: list[CheckResult]
    failed_sagas: list[str]
    passed: bool
    lint_findings: list[str] = field(default_factory=list)
    scenarios: list[ScenarioOutcome] = field(default_factory=list)
    """The fault plan's scenarios, each with its outcome (empty: none were run)."""
    redeploy: list[RedeployOutcome] = field(default_factory=list)
    """Each saga type across a redeploy to a changed version (empty: not run)."""

    def to_dict(self) -> dict[str, Any]:
        """Plain data (lists, dicts, numbers, strings), field names as keys."""
        return asdict(self)

    def to_json(self) -> str:
        """Stable JSON: sorted keys, two-space indent, trailing newline."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    def to_markdown(self) -> str:
        """A readable report: gates (PASS/FAIL), checks, failing sagas, lint findings."""
        return render_markdown(self)


def run_check(
    db: SqlRunner, query: ValidationQuery, *, now: float
) -> tuple[CheckResult, list[str]]:
    """Run one query: its result, and every violating subject (not just the listed ones).

    ``now`` is bound wherever ``query.params`` says ``"now"``. Raises ``CheckQueryError``
    naming the check when the database refuses either SQL statement.
    """
    bound = [now for name in query.params if name == "now"]
    try:
        rows = db.query(query.violations_sql, bound)
    except Exception as exc:
        raise CheckQueryError(query.name, query.violations_sql, exc) from exc
    try:
        counted = db.query(query.subjects_sql)
    except Exception as exc:
        raise CheckQueryError(query.name, query.subjects_sql, exc) from exc
    subjects = int(counted[0][0]) if counted and counted[0][0] is not None else 0
    everything = [str(row[0]) for row in rows]
    result = CheckResult(
        name=query.name,
        description=query.description,
        subjects=subjects,
        violations=everything[:MAX_LISTED_VIOLATIONS],
        violation_count=len(everything),
    )
    return result, everything


def compute_verdict(
    db: SqlRunner,
    *,
    system: str,
    profile: str,
    thresholds: Thresholds,
    queries: Sequence[ValidationQuery],
    extra_checks: Sequence[CheckResult] = (),
    lint_findings: Sequence[str] = (),
    blocking: Collection[str] = (),
    scenarios: Sequence[ScenarioOutcome] = (),
    redeploy: Sequence[RedeployOutcome] = (),
    now: float,
) -> Verdict:
    """Measure the system's tables and gate the figures against ``thresholds``.

    ``queries`` run in order (``now``, epoch seconds, is bound to their ``"now"``
    parameters); ``extra_checks`` (e.g. generated tests, replay-equals-snapshot) join
    them in the consistency score. ``failed_sagas`` lists, sorted, every saga id named as
    a violation subject by any check plus every saga in ``compensation_failed`` or
    ``stalled``. ``blocking`` names checks that must have no violation at all (e.g. the
    generated test suite): each becomes a gate of its own, with unit ``"count"``.
    ``scenarios`` (the fault plan's, as run) join the verdict; when there are any, the
    ``fault_scenarios`` gate counts the failed ones and must find none. Likewise
    ``redeploy`` (each saga type across a redeploy) and the ``redeploy_keeps_plans`` gate.
    ``passed`` is true when every gate passes and ``lint_findings`` is empty.
    """
    census = read_census(db)
    checks: list[CheckResult] = []
    named: set[str] = set()
    for query in queries:
        result, subjects = run_check(db, query, now=now)
        checks.append(result)
        named.update(subjects)
    for extra in extra_checks:
        checks.append(extra)
        named.update(extra.violations)
    score = consistency_score(
        sum(c.subjects for c in checks), sum(c.violation_count for c in checks)
    )
    success = census.success_rate
    p95 = worst_window_percentile(db, 95)
    p99 = worst_window_percentile(db, 99)
    gates = [
        _gate("success_rate", success, thresholds.success_rate_min, ">=", "ratio"),
        _gate("step_latency_p95_ms", p95, thresholds.step_latency_p95_ms_max, "<=", "ms"),
        _gate("step_latency_p99_ms", p99, thresholds.step_latency_p99_ms_max, "<=", "ms"),
        _gate("consistency_score", score, thresholds.consistency_score_min, ">=", "ratio"),
    ]
    gates += [
        _gate(check.name, check.violation_count, 0, "<=", "count")
        for check in checks
        if check.name in blocking
    ]
    if scenarios:
        failed_scenarios = sum(not s.passed for s in scenarios)
        gates.append(_gate("fault_scenarios", failed_scenarios, 0, "<=", "count"))
    if redeploy:
        failed_redeploy = sum(not r.passed for r in redeploy)
        gates.append(_gate("redeploy_keeps_plans", failed_redeploy, 0, "<=", "count"))
    failed = sorted({s for s in named if s in census.states} | set(census.stuck))
    return Verdict(
        system=system,
        profile=profile,
        sagas_total=census.total,
        success_rate=success,
        step_latency_p95_ms=p95,
        step_latency_p99_ms=p99,
        consistency_score=score,
        gates=gates,
        checks=checks,
        failed_sagas=failed,
        passed=all(g.passed for g in gates) and not lint_findings,
        lint_findings=list(lint_findings),
        scenarios=list(scenarios),
        redeploy=list(redeploy),
    )


def _gate(
    name: str, measured: float, threshold: float, comparison: Literal[">=", "<="], unit: str
) -> Gate:
    passed = measured >= threshold if comparison == ">=" else measured <= threshold
    return Gate(name, measured, threshold, comparison, passed, unit)
