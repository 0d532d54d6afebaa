"""Monitoring of a generated system: Prometheus alert rules, their promtool tests, a dashboard.

Pure functions of the blueprint and a threshold profile (same input, same bytes), over the
metrics of :mod:`sagacrew.runtime.metrics`. Windows follow the stage dossier: success rate
over 5-minute windows, step latency over 1-minute windows, consistency from the (hourly)
validation. Alert rules, one group per concern:

- ``success`` (SAGA-001): recorded per saga ``sagacrew:saga_success_ratio:rate5m``
  (completed / finished, finished = completed + compensated + compensation_failed +
  stalled, as in the verdict); alerts ``SagaSuccessRateBelowProfile`` (below the
  profile's minimum), ``SagaTransactionFailureDetected`` (below 95 %, a rollback
  trigger), ``SagaStalled`` (a saga stalled after its pivot);
- ``latency`` (SAGA-001): recorded per step ``sagacrew:saga_step_latency_seconds:p95_1m``
  and ``:p99_1m``; alerts ``SagaStepLatencyP95AboveProfile`` / ``...P99AboveProfile``;
- ``compensation`` (SAGA-002): ``SagaCompensationFailed`` (a compensation was
  dead-lettered after its retries, a rollback trigger), ``SagaDeadLetters`` (any dead
  letter);
- ``supervision`` (SAGA-003): ``ActorRestartsHigh`` (more restarts in 5 minutes than the
  smallest restart intensity of the tree), ``ActorSupervisionFailed`` (a supervision tree
  gave up: intensity exceeded or an escalation reached its root);
- ``consistency`` (SAGA-004): ``SagaConsistencyBelowProfile``,
  ``SagaConsistencyRollbackRequired`` (below 95 %, a rollback trigger) and
  ``SagaConsistencyVerified`` (info: at or above the minimum for 24 h, advance).

Every alert carries the labels ``severity``, ``trigger`` (``SAGA-00x``), ``system``,
``profile`` and ``rollback`` (``"true"`` for the seed's rollback triggers), and the
annotations ``summary``, ``description`` and ``runbook`` (the sagacrew command to run).
Saga metrics are selected by the blueprint's saga names, the consistency score by system.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import yaml

from sagacrew.crew.blueprint import Blueprint
from sagacrew.crew.spec.model import Thresholds
from sagacrew.runtime.metrics import LATENCY_BUCKETS_S

SEED_SUCCESS_RATE_MIN = 0.95
"""SAGA-001 and the rollback procedure: transaction success rate below 95 %."""
SEED_CONSISTENCY_MIN = 0.95
"""Rollback procedure: consistency score below 95 %."""
VERIFIED_FOR = "24h"
"""SAGA-004: the consistency score held at or above the profile minimum this long."""
GRAFANA_SCHEMA_VERSION = 39

Severity = Literal["info", "warning", "critical"]


class MonitoringError(Exception):
    """The blueprint cannot be monitored as asked (one line: what is wrong; the fix)."""


# --- the plan shared by the rules, their tests and the dashboard ------------------------


@dataclass(frozen=True)
class _Record:
    record: str
    expr: str


@dataclass(frozen=True)
class _Alert:
    alert: str
    expr: str
    by: tuple[str, ...]
    """Labels the expression's result keeps (besides the rule's own labels)."""
    severity: Severity
    trigger: str
    summary: str
    description: str
    runbook: str
    for_: str | None = None
    rollback: bool = False


@dataclass(frozen=True)
class _Group:
    concern: str
    rules: tuple[_Record | _Alert, ...]


@dataclass(frozen=True)
class _Context:
    blueprint: Blueprint
    profile: str
    thresholds: Thresholds
    sagas: tuple[str, ...]
    restart_threshold: int

    @property
    def system(self) -> str:
        return self.blueprint.system

    @property
    def saga_match(self) -> str:
        return 'saga=~"' + "|".join(re.escape(name) for name in self.sagas) + '"'

    def command(self, verb: str, *extra: str) -> str:
        return " ".join(["sagacrew", verb, f"generated/{self.system}", *extra])

    def labels(self, alert: _Alert) -> dict[str, str]:
        return {
            "profile": self.profile,
            "rollback": "true" if alert.rollback else "false",
            "severity": alert.severity,
            "system": self.system,
            "trigger": alert.trigger,
        }


def _context(blueprint: Blueprint, profile: str) -> _Context:
    if blueprint.sagas is None or blueprint.validation is None or blueprint.actors is None:
        raise MonitoringError(
            f"blueprint of {blueprint.system!r} lacks its sagas, actors or validation part; "
            "run all four agents (`sagacrew generate SPEC`) before generating monitoring"
        )
    if not blueprint.sagas.sagas:
        raise MonitoringError(
            f"blueprint of {blueprint.system!r} has no sagas to monitor; add one to the spec"
        )
    profiles = blueprint.validation.profiles
    if profile not in profiles:
        raise MonitoringError(
            f"unknown threshold profile {profile!r} for {blueprint.system!r}; "
            f"use one of {sorted(profiles)}"
        )
    intensities = [s.intensity for s in blueprint.actors.supervisors] or [3]
    return _Context(
        blueprint,
        profile,
        profiles[profile],
        tuple(saga.name for saga in blueprint.sagas.sagas),
        max(1, min(intensities)),
    )


def _num(value: float) -> str:
    return repr(float(value))


def _pct(ratio: float) -> str:
    return f"{ratio * 100:g} %"


def _success_group(c: _Context) -> _Group:
    m, window = c.saga_match, "5m"

    def rate(outcome: str) -> str:
        return f"sum by (saga) (rate(sagacrew_sagas_{outcome}_total{{{m}}}[{window}]))"

    finished = " + ".join(
        rate(o) for o in ("completed", "compensated", "compensation_failed", "stalled")
    )
    ratio = "sagacrew:saga_success_ratio:rate5m"
    remediate = c.command("remediate", "--profile", c.profile)
    verify = c.command("verify", "--profile", c.profile)
    minimum = c.thresholds.success_rate_min
    return _Group(
        "success",
        (
            _Record("sagacrew:sagas_finished:rate5m", finished),
            _Record(ratio, f"{rate('completed')} / sagacrew:sagas_finished:rate5m{{{m}}}"),
            _Alert(
                "SagaSuccessRateBelowProfile",
                f"{ratio}{{{m}}} < {_num(minimum)}",
                ("saga",),
                "warning",
                "SAGA-001",
                f"Saga {{{{ $labels.saga }}}} success rate below the {c.profile} profile's "
                f"{_pct(minimum)}",
                "Over 5-minute windows, fewer than "
                f"{_pct(minimum)} of the {{{{ $labels.saga }}}} sagas that finished completed "
                "(the others compensated, failed to compensate or stalled).",
                f"Run `{verify}` for the failing sagas, then `{remediate}`.",
                for_="5m",
            ),
            _Alert(
                "SagaTransactionFailureDetected",
                f"{ratio}{{{m}}} < {_num(SEED_SUCCESS_RATE_MIN)}",
                ("saga",),
                "critical",
                "SAGA-001",
                f"Saga {{{{ $labels.saga }}}} success rate below {_pct(SEED_SUCCESS_RATE_MIN)}"
                " (SAGA-001, rollback trigger)",
                "Transaction failure detected: fewer than "
                f"{_pct(SEED_SUCCESS_RATE_MIN)} of the {{{{ $labels.saga }}}} sagas that "
                "finished over 5 minutes completed.",
                f"Run `{remediate}` (diagnoses and recovers the failing sagas); if it does "
                f"not recover, `{c.command('rollback')}`.",
                for_="5m",
                rollback=True,
            ),
            _Alert(
                "SagaStalled",
                f"sum by (saga) (increase(sagacrew_sagas_stalled_total{{{m}}}[5m])) > 0",
                ("saga",),
                "critical",
                "SAGA-001",
                "Saga {{ $labels.saga }} stalled after its pivot",
                "A step after the pivot of a {{ $labels.saga }} saga kept failing until the "
                "saga's deadline; it cannot compensate and waits for an operator.",
                f"Fix the failing step's service, then run `{remediate}`.",
            ),
        ),
    )


def _latency_group(c: _Context) -> _Group:
    m = c.saga_match
    rules: list[_Record | _Alert] = []
    remediate = c.command("remediate", "--profile", c.profile)
    gates = (
        ("p95", 0.95, c.thresholds.step_latency_p95_ms_max),
        ("p99", 0.99, c.thresholds.step_latency_p99_ms_max),
    )
    for name, quantile, _ in gates:
        rules.append(
            _Record(
                f"sagacrew:saga_step_latency_seconds:{name}_1m",
                f"histogram_quantile({quantile}, sum by (saga, step, le) "
                f"(rate(sagacrew_saga_step_latency_seconds_bucket{{{m}}}[1m])))",
            )
        )
    for name, _, max_ms in gates:
        rules.append(
            _Alert(
                f"SagaStepLatency{name.upper()}AboveProfile",
                f"sagacrew:saga_step_latency_seconds:{name}_1m{{{m}}} > {_num(max_ms / 1000)}",
                ("saga", "step"),
                "warning",
                "SAGA-001",
                f"Step {{{{ $labels.saga }}}}/{{{{ $labels.step }}}} {name} latency above "
                f"{max_ms:g} ms",
                f"Over 1-minute windows, the {name} latency of step {{{{ $labels.step }}}} of "
                f"{{{{ $labels.saga }}}} exceeds the {c.profile} profile's {max_ms:g} ms.",
                f"Check the step's target actor or external system, then `{remediate}`.",
                for_="5m",
            )
        )
    return _Group("latency", tuple(rules))


def _compensation_group(c: _Context) -> _Group:
    m = c.saga_match
    listing = c.command("dead-letters list")
    redrive = c.command("dead-letters redrive", "ID")
    remediate = c.command("remediate", "--profile", c.profile)
    return _Group(
        "compensation",
        (
            _Alert(
                "SagaCompensationFailed",
                "sum by (saga) "
                f"(increase(sagacrew_sagas_compensation_failed_total{{{m}}}[5m])) > 0",
                ("saga",),
                "critical",
                "SAGA-002",
                "A {{ $labels.saga }} compensation failed after its retries (SAGA-002)",
                "Compensation required: a {{ $labels.saga }} saga ended compensation_failed; "
                "its compensation is parked in the dead-letter queue.",
                f"List it with `{listing}`, fix the cause, then `{redrive}` "
                f"(or `{remediate}`, which redrives each parked compensation once).",
                rollback=True,
            ),
            _Alert(
                "SagaDeadLetters",
                "sum by (instance, kind) (increase(sagacrew_dead_letters_total[5m])) > 0",
                ("instance", "kind"),
                "warning",
                "SAGA-002",
                "New {{ $labels.kind }} dead letters on {{ $labels.instance }}",
                "Dead letters of kind {{ $labels.kind }} appeared in the last 5 minutes: "
                "parked compensations or actor messages that could not be delivered.",
                f"Inspect them with `{listing}`; redrive compensations with `{redrive}`.",
            ),
        ),
    )


def _supervision_group(c: _Context) -> _Group:
    remediate = c.command("remediate", "--profile", c.profile)
    limit = c.restart_threshold
    return _Group(
        "supervision",
        (
            _Alert(
                "ActorRestartsHigh",
                f"sum by (instance) (increase(sagacrew_actor_restarts_total[5m])) > {limit}",
                ("instance",),
                "warning",
                "SAGA-003",
                f"More than {limit} actor restarts in 5 minutes on {{{{ $labels.instance }}}}",
                "Actors keep crashing: more restarts in 5 minutes than the smallest restart "
                f"intensity ({limit}) of the supervision tree.",
                f"Run `{remediate}` (restarts the failing supervisor subtree once) and read "
                "actor_message_log for the messages that crash them.",
            ),
            _Alert(
                "ActorSupervisionFailed",
                "sum by (instance) (increase(sagacrew_supervision_failures_total[5m])) > 0",
                ("instance",),
                "critical",
                "SAGA-003",
                "Supervision tree failed on {{ $labels.instance }} (SAGA-003)",
                "A top-level supervisor exceeded its restart intensity or a child escalated "
                "to it: the actors under it are stopped.",
                f"Run `{remediate}`; if the tree fails again, `{c.command('rollback')}`.",
            ),
        ),
    )


def _consistency_group(c: _Context) -> _Group:
    score = f'min by (system) (sagacrew_consistency_score{{system="{c.system}"}})'
    minimum = c.thresholds.consistency_score_min
    verify = c.command("verify", "--profile", c.profile)
    return _Group(
        "consistency",
        (
            _Alert(
                "SagaConsistencyBelowProfile",
                f"{score} < {_num(minimum)}",
                ("system",),
                "warning",
                "SAGA-004",
                f"{{{{ $labels.system }}}} consistency score below the {c.profile} profile's "
                f"{_pct(minimum)}",
                "The last validation found consistency violations: SAGA-004 (consistency "
                "verified) is not met.",
                f"Run `{verify}` and read the failing checks in its report.",
            ),
            _Alert(
                "SagaConsistencyRollbackRequired",
                f"{score} < {_num(SEED_CONSISTENCY_MIN)}",
                ("system",),
                "critical",
                "SAGA-004",
                f"{{{{ $labels.system }}}} consistency score below "
                f"{_pct(SEED_CONSISTENCY_MIN)} (rollback trigger)",
                "Consistency is below the rollback threshold: pause, drain, restore from "
                "snapshots and re-validate before resuming.",
                f"Run `{c.command('rollback')}`, then `{verify}`.",
                rollback=True,
            ),
            _Alert(
                "SagaConsistencyVerified",
                f"{score} >= {_num(minimum)}",
                ("system",),
                "info",
                "SAGA-004",
                f"{{{{ $labels.system }}}} consistency verified for {VERIFIED_FOR} (SAGA-004)",
                f"The consistency score held at or above {_pct(minimum)} for {VERIFIED_FOR}: "
                "the system may advance.",
                f"Run `{c.command('remediate', '--profile', c.profile)}` to write the "
                "SAGA-004 completion report.",
                for_=VERIFIED_FOR,
            ),
        ),
    )


def _plan(c: _Context) -> tuple[_Group, ...]:
    return (
        _success_group(c),
        _latency_group(c),
        _compensation_group(c),
        _supervision_group(c),
        _consistency_group(c),
    )


def _alerts(groups: Iterable[_Group]) -> list[_Alert]:
    return [rule for group in groups for rule in group.rules if isinstance(rule, _Alert)]


# --- rendering ------------------------------------------------------------------------


def _header(blueprint: Blueprint, what: str) -> str:
    return (
        f"# Generated by sagacrew from {blueprint.spec_file} (`sagacrew generate`). "
        "Do not edit: regenerate instead.\n"
        f"# {what}\n"
    )


def _yaml(document: Mapping[str, Any]) -> str:
    return yaml.safe_dump(
        document, sort_keys=False, default_flow_style=False, allow_unicode=True, width=4096
    )


def _rule_yaml(c: _Context, rule: _Record | _Alert) -> dict[str, Any]:
    if isinstance(rule, _Record):
        return {"record": rule.record, "expr": rule.expr}
    out: dict[str, Any] = {"alert": rule.alert, "expr": rule.expr}
    if rule.for_:
        out["for"] = rule.for_
    out["labels"] = c.labels(rule)
    out["annotations"] = {
        "summary": rule.summary,
        "description": rule.description,
        "runbook": rule.runbook,
    }
    return out


def rule_file_name(profile: str) -> str:
    """The conventional file name of a profile's alert rules."""
    return f"alert_rules.{profile}.yml"


def alert_rules(blueprint: Blueprint, profile: str) -> str:
    """The Prometheus rules file (YAML) for ``blueprint``'s system under ``profile``.

    Raises :class:`MonitoringError` for an unknown profile or an incomplete blueprint.
    """
    c = _context(blueprint, profile)
    groups = [
        {
            "name": f"sagacrew.{c.system}.{group.concern}",
            "rules": [_rule_yaml(c, rule) for rule in group.rules],
        }
        for group in _plan(c)
    ]
    what = f"Prometheus alert rules of {c.system}, {profile} profile (`promtool check rules`)."
    return _header(blueprint, what) + _yaml({"groups": groups})


# --- promtool unit tests ---------------------------------------------------------------

_INSTANCE = "app-1:8000"
_PER_MINUTE_TOTAL = 10_000
"""Sagas finishing per minute in the simulated success-rate series."""
_BOUNDS: tuple[float, ...] = (*LATENCY_BUCKETS_S, float("inf"))


@dataclass
class _Case:
    name: str
    series: dict[str, str] = field(default_factory=dict)
    checks: list[tuple[str, str, list[dict[str, str]]]] = field(default_factory=list)
    """(eval_time, alertname, labels of every firing alert)."""


def _series_name(name: str, labels: Mapping[str, str]) -> str:
    inner = ",".join(f'{key}="{labels[key]}"' for key in sorted(labels))
    return f"{name}{{{inner}}}"


def _ramp(per_minute: float, minutes: int = 40) -> str:
    return f"0+{per_minute:g}x{minutes}"


def _step_up(burst: int, minutes: int = 40, at: int = 3) -> str:
    """A counter at 0 that jumps by ``burst`` at minute ``at``."""
    return " ".join(["0"] * at + [str(burst)] * (minutes - at + 1))


def _outcome_series(c: _Context, case: _Case, saga: str, failed_per_minute: int) -> None:
    completed = _PER_MINUTE_TOTAL - failed_per_minute
    labels = {"saga": saga, "job": c.system, "instance": _INSTANCE}
    for outcome, per_minute in (
        ("started", _PER_MINUTE_TOTAL),
        ("completed", completed),
        ("compensated", failed_per_minute),
        ("compensation_failed", 0),
        ("stalled", 0),
    ):
        case.series[_series_name(f"sagacrew_sagas_{outcome}_total", labels)] = _ramp(per_minute)


def _histogram_quantile(q: float, per_bucket: Sequence[int]) -> float:
    """Prometheus' ``histogram_quantile`` over non-cumulative bucket counts (``_BOUNDS``)."""
    total = sum(per_bucket)
    rank, cumulative = q * total, 0
    for index, count in enumerate(per_bucket):
        if cumulative + count >= rank and count:
            if _BOUNDS[index] == float("inf"):
                return _BOUNDS[index - 1]
            lower = 0.0 if index == 0 else _BOUNDS[index - 1]
            return lower + (_BOUNDS[index] - lower) * (rank - cumulative) / count
        cumulative += count
    return float("nan")


def _latency_series(c: _Context, case: _Case, per_bucket: Sequence[int]) -> tuple[str, str]:
    assert c.blueprint.sagas is not None
    saga = c.blueprint.sagas.sagas[0]
    step = saga.steps[0].name
    labels = {"saga": saga.name, "step": step, "job": c.system, "instance": _INSTANCE}
    cumulative = 0
    for bound, count in zip(_BOUNDS, per_bucket, strict=True):
        cumulative += count
        le = "+Inf" if bound == float("inf") else repr(bound)
        name = _series_name("sagacrew_saga_step_latency_seconds_bucket", {**labels, "le": le})
        case.series[name] = _ramp(cumulative)
    return saga.name, step


def _firing(c: _Context, alert: _Alert, values: Mapping[str, str]) -> dict[str, str]:
    return {**{key: values[key] for key in alert.by}, **c.labels(alert)}


def _expand(template: str, labels: Mapping[str, str]) -> str:
    return re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels[m.group(1)], template)


def _success_cases(c: _Context, alerts: Mapping[str, _Alert]) -> list[_Case]:
    first, others = c.sagas[0], c.sagas[1:]
    minimum = c.thresholds.success_rate_min
    low, high = sorted((minimum, SEED_SUCCESS_RATE_MIN))
    ratios = {
        "healthy": (high + 1) / 2,
        "between the profile minimum and 95 %": (low + high) / 2,
        "far below every minimum": low / 2,
    }
    cases = []
    for label, target in ratios.items():
        failed = round((1 - target) * _PER_MINUTE_TOTAL)
        ratio = (_PER_MINUTE_TOTAL - failed) / _PER_MINUTE_TOTAL
        case = _Case(f"success rate {ratio:.4f} ({label}) of {first}")
        _outcome_series(c, case, first, failed)
        for saga in others:
            _outcome_series(c, case, saga, 0)
        for name, bound in (
            ("SagaSuccessRateBelowProfile", minimum),
            ("SagaTransactionFailureDetected", SEED_SUCCESS_RATE_MIN),
        ):
            fired = [_firing(c, alerts[name], {"saga": first})] if ratio < bound else []
            case.checks.append(("10m", name, fired))
            case.checks.append(("3m", name, []))  # pending: not yet 5 minutes long
        cases.append(case)
    return cases


def _latency_cases(c: _Context, alerts: Mapping[str, _Alert]) -> list[_Case]:
    slowest_ms = max(c.thresholds.step_latency_p95_ms_max, c.thresholds.step_latency_p99_ms_max)
    slow = next(
        (i for i in range(1, len(_BOUNDS)) if _BOUNDS[i - 1] >= slowest_ms / 1000),
        len(_BOUNDS) - 1,
    )
    shapes = {"fast": {0: 100}, "slow": {slow: 100}, "a slow tail": {0: 97, slow: 3}}
    cases = []
    for label, shape in shapes.items():
        per_bucket = [shape.get(i, 0) for i in range(len(_BOUNDS))]
        case = _Case(f"step latency: {label}")
        saga, step = _latency_series(c, case, per_bucket)
        for name, q, max_ms in (
            ("p95", 0.95, c.thresholds.step_latency_p95_ms_max),
            ("p99", 0.99, c.thresholds.step_latency_p99_ms_max),
        ):
            alert = alerts[f"SagaStepLatency{name.upper()}AboveProfile"]
            value_s = _histogram_quantile(q, per_bucket)
            fired = value_s > max_ms / 1000
            labels = [_firing(c, alert, {"saga": saga, "step": step})] if fired else []
            case.checks.append(("10m", alert.alert, labels))
        cases.append(case)
    return cases


def _event_cases(c: _Context, alerts: Mapping[str, _Alert]) -> list[_Case]:
    first, limit = c.sagas[0], c.restart_threshold
    where = {"job": c.system, "instance": _INSTANCE}
    events: tuple[tuple[str, str, dict[str, str], int], ...] = (
        ("SagaCompensationFailed", "sagacrew_sagas_compensation_failed_total", {"saga": first}, 1),
        ("SagaStalled", "sagacrew_sagas_stalled_total", {"saga": first}, 1),
        ("SagaDeadLetters", "sagacrew_dead_letters_total", {"kind": "compensation"}, 1),
        ("ActorSupervisionFailed", "sagacrew_supervision_failures_total", {}, 1),
        ("ActorRestartsHigh", "sagacrew_actor_restarts_total", {}, limit),
        ("ActorRestartsHigh", "sagacrew_actor_restarts_total", {}, limit + 1),
    )
    cases = []
    for name, metric, labels, burst in events:
        values = {**labels, **where}
        fires = burst > (limit if name == "ActorRestartsHigh" else 0)
        case = _Case(f"{name}: {burst} event(s) at minute 3")
        case.series[_series_name(metric, values)] = _step_up(burst)
        case.checks.append(("2m", name, []))
        case.checks.append(("5m", name, [_firing(c, alerts[name], values)] if fires else []))
        case.checks.append(("20m", name, []))  # resolved once the burst left the window
        cases.append(case)
    return cases


def _consistency_cases(c: _Context, alerts: Mapping[str, _Alert]) -> list[_Case]:
    minimum = c.thresholds.consistency_score_min
    where = {"system": c.system, "job": c.system, "instance": _INSTANCE}
    series = _series_name("sagacrew_consistency_score", where)
    cases = []
    for score in (min(minimum, SEED_CONSISTENCY_MIN) / 2, (max(minimum, 0.95) + 1) / 2):
        case = _Case(f"consistency score {score:g}")
        case.series[series] = f"{score:g}+0x40"
        for name, bound in (
            ("SagaConsistencyBelowProfile", minimum),
            ("SagaConsistencyRollbackRequired", SEED_CONSISTENCY_MIN),
        ):
            fired = [_firing(c, alerts[name], where)] if score < bound else []
            case.checks.append(("10m", name, fired))
        case.checks.append(("10m", "SagaConsistencyVerified", []))
        cases.append(case)
    verified = _Case(f"consistency score {minimum:g} held for {VERIFIED_FOR}")
    verified.series[series] = f"{minimum:g}+0x1500"
    alert = alerts["SagaConsistencyVerified"]
    verified.checks.append(("1380m", alert.alert, []))
    verified.checks.append(("1450m", alert.alert, [_firing(c, alert, where)]))
    return [*cases, verified]


def _healthy_case(c: _Context, alerts: Sequence[_Alert]) -> _Case:
    case = _Case("healthy: no alert fires")
    for saga in c.sagas:
        _outcome_series(c, case, saga, 0)
    _latency_series(c, case, [100] + [0] * (len(_BOUNDS) - 1))
    where = {"job": c.system, "instance": _INSTANCE}
    for metric in ("sagacrew_actor_restarts_total", "sagacrew_supervision_failures_total"):
        case.series[_series_name(metric, where)] = "0+0x40"
    for kind in ("compensation", "actor_stopped"):
        case.series[_series_name("sagacrew_dead_letters_total", {**where, "kind": kind})] = "0+0x40"
    case.series[_series_name("sagacrew_consistency_score", {**where, "system": c.system})] = (
        "1+0x40"
    )
    case.checks.extend(("10m", alert.alert, []) for alert in alerts)
    return case


def _case_yaml(case: _Case, alerts: Mapping[str, _Alert]) -> dict[str, Any]:
    checks = []
    for eval_time, name, firing in case.checks:
        alert = alerts[name]
        expected = [
            {
                "exp_labels": labels,
                "exp_annotations": {
                    "summary": _expand(alert.summary, labels),
                    "description": _expand(alert.description, labels),
                    "runbook": _expand(alert.runbook, labels),
                },
            }
            for labels in firing
        ]
        checks.append({"eval_time": eval_time, "alertname": name, "exp_alerts": expected})
    return {
        "name": case.name,
        "interval": "1m",
        "input_series": [{"series": s, "values": v} for s, v in case.series.items()],
        "alert_rule_test": checks,
    }


def alert_rule_tests(blueprint: Blueprint, profile: str, *, rule_file: str | None = None) -> str:
    """A promtool unit-test file (``promtool test rules``) for :func:`alert_rules`.

    It simulates a healthy system (no alert fires) and, concern by concern, failures
    (each alert fires when its threshold is crossed, not before its ``for`` duration, and
    resolves once the failure leaves the window). ``rule_file`` (default
    :func:`rule_file_name`) is the rules file, relative to the test file.
    """
    c = _context(blueprint, profile)
    alerts = {alert.alert: alert for alert in _alerts(_plan(c))}
    cases = [
        _healthy_case(c, list(alerts.values())),
        *_success_cases(c, alerts),
        *_latency_cases(c, alerts),
        *_event_cases(c, alerts),
        *_consistency_cases(c, alerts),
    ]
    document = {
        "rule_files": [rule_file or rule_file_name(profile)],
        "evaluation_interval": "1m",
        "tests": [_case_yaml(case, alerts) for case in cases],
    }
    what = f"promtool unit tests of the {profile} alert rules of {c.system}."
    return _header(blueprint, what) + _yaml(document)


# --- Grafana dashboard -------------------------------------------------------------------

_DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
_SAGAS = '{saga=~"$saga"}'


@dataclass(frozen=True)
class _Panel:
    title: str
    description: str
    targets: tuple[tuple[str, str], ...]
    """(PromQL, legend format)."""
    thresholds: tuple[tuple[str, float | None], ...]
    """(colour, from value) steps; the first starts at ``None`` (minus infinity)."""
    unit: str = "short"
    max: float | None = None

    def model(self, index: int) -> dict[str, Any]:
        defaults: dict[str, Any] = {
            "unit": self.unit,
            "min": 0.0,
            "thresholds": {
                "mode": "absolute",
                "steps": [{"color": color, "value": value} for color, value in self.thresholds],
            },
            "color": {"mode": "palette-classic"},
            "custom": {"thresholdsStyle": {"mode": "line+area"}, "lineWidth": 2},
        }
        if self.max is not None:
            defaults["max"] = self.max
        return {
            "id": index + 1,
            "type": "timeseries",
            "title": self.title,
            "description": self.description,
            "datasource": _DATASOURCE,
            "gridPos": {"h": 8, "w": 12, "x": (index % 2) * 12, "y": (index // 2) * 8},
            "fieldConfig": {"defaults": defaults, "overrides": []},
            "options": {
                "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
                "tooltip": {"mode": "multi", "sort": "desc"},
            },
            "targets": [
                {
                    "refId": chr(ord("A") + n),
                    "datasource": _DATASOURCE,
                    "expr": e,
                    "legendFormat": f,
                }
                for n, (e, f) in enumerate(self.targets)
            ],
        }


def _floor(minimum: float, seed_min: float) -> tuple[tuple[str, float | None], ...]:
    """Red below both minimums, orange between them, green at or above both."""
    low, high = sorted((minimum, seed_min))
    if low == high:
        return (("red", None), ("green", high))
    return (("red", None), ("orange", low), ("green", high))


def _panels(c: _Context) -> list[_Panel]:
    t, m = c.thresholds, _SAGAS
    outcomes = ("started", "completed", "compensated", "compensation_failed", "stalled")
    return [
        _Panel(
            "Saga success rate (5m)",
            f"Completed / finished sagas over 5 minutes. Gate: >= {_pct(t.success_rate_min)} "
            f"({c.profile}); SAGA-001 below {_pct(SEED_SUCCESS_RATE_MIN)}.",
            ((f"sagacrew:saga_success_ratio:rate5m{m}", "{{saga}}"),),
            _floor(t.success_rate_min, SEED_SUCCESS_RATE_MIN),
            "percentunit",
            1.0,
        ),
        _Panel(
            "Consistency score",
            f"Score of the last validation. Gate: >= {_pct(t.consistency_score_min)} "
            f"({c.profile}); rollback below {_pct(SEED_CONSISTENCY_MIN)}.",
            ((f'sagacrew_consistency_score{{system="{c.system}"}}', "{{system}}"),),
            _floor(t.consistency_score_min, SEED_CONSISTENCY_MIN),
            "percentunit",
            1.0,
        ),
        *(
            _Panel(
                f"Step latency {name} (1m)",
                f"{name} of the forward steps that succeeded. Gate: <= {max_ms:g} ms.",
                ((f"sagacrew:saga_step_latency_seconds:{name}_1m{m}", "{{saga}} / {{step}}"),),
                (("green", None), ("red", max_ms / 1000)),
                "s",
            )
            for name, max_ms in (
                ("p95", t.step_latency_p95_ms_max),
                ("p99", t.step_latency_p99_ms_max),
            )
        ),
        _Panel(
            "Saga outcomes (per 5m)",
            "Sagas started, and sagas reaching each terminal state.",
            tuple(
                (f"sum by (saga) (increase(sagacrew_sagas_{o}_total{m}[5m]))", "{{saga}} " + o)
                for o in outcomes
            ),
            (("green", None),),
        ),
        _Panel(
            "Compensations (per 5m)",
            "Step compensations that succeeded, and sagas whose compensation failed (SAGA-002).",
            (
                (
                    f"sum by (saga, step) (increase(sagacrew_compensations_total{m}[5m]))",
                    "{{saga}} / {{step}}",
                ),
                (
                    f"sum by (saga) (increase(sagacrew_sagas_compensation_failed_total{m}[5m]))",
                    "{{saga}} compensation_failed",
                ),
            ),
            (("green", None), ("red", 1.0)),
        ),
        _Panel(
            "Dead letters (per 5m)",
            "Parked compensations and undeliverable actor messages (SAGA-002).",
            (("sum by (kind) (increase(sagacrew_dead_letters_total[5m]))", "{{kind}}"),),
            (("green", None), ("red", 1.0)),
        ),
        _Panel(
            "Actor restarts (per 5m)",
            f"Restarts by supervisors (SAGA-003 above {c.restart_threshold} in 5 minutes) and "
            "failed supervision trees.",
            (
                (
                    "sum by (instance) (increase(sagacrew_actor_restarts_total[5m]))",
                    "restarts {{instance}}",
                ),
                (
                    "sum by (instance) (increase(sagacrew_supervision_failures_total[5m]))",
                    "supervision failures {{instance}}",
                ),
            ),
            (("green", None), ("red", float(c.restart_threshold + 1))),
        ),
    ]


def dashboard(blueprint: Blueprint, profile: str) -> dict[str, Any]:
    """A Grafana dashboard (JSON model) of the system under ``profile``.

    Timeseries panels with the profile's thresholds drawn as threshold steps: saga
    success rate (5m), consistency score, step latency p95 and p99 (1m); then saga
    outcomes, compensations, dead letters, and actor restarts with supervision failures.
    Stable uid and panel ids, a relative time range, no timestamps. Variables:
    ``datasource`` (the Prometheus data source) and ``saga`` (filters the sagas).
    """
    c = _context(blueprint, profile)
    uid = f"sagacrew-{c.system}-{profile}"
    if len(uid) > 40:  # Grafana's limit
        uid = "sagacrew-" + hashlib.sha256(uid.encode()).hexdigest()[:31]
    variables = [
        {"name": "datasource", "label": "Prometheus", "type": "datasource",
         "query": "prometheus", "current": {}, "hide": 0},
        {"name": "saga", "label": "Saga", "type": "custom", "query": ",".join(c.sagas),
         "multi": True, "includeAll": True, "allValue": "|".join(map(re.escape, c.sagas)),
         "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
         "options": [], "hide": 0},
    ]  # fmt: skip
    return {
        "uid": uid,
        "title": f"sagacrew: {blueprint.title or c.system} ({profile})",
        "description": (
            f"Generated by sagacrew from {blueprint.spec_file} (`sagacrew generate`). "
            "Do not edit: regenerate instead."
        ),
        "tags": ["sagacrew", c.system, profile],
        "schemaVersion": GRAFANA_SCHEMA_VERSION,
        "version": 1,
        "editable": True,
        "graphTooltip": 1,
        "refresh": "1m",
        "time": {"from": "now-6h", "to": "now"},
        "timepicker": {},
        "timezone": "browser",
        "links": [],
        "annotations": {"list": []},
        "templating": {"list": variables},
        "panels": [panel.model(index) for index, panel in enumerate(_panels(c))],
    }


def monitoring_files(blueprint: Blueprint) -> dict[str, str]:
    """Every monitoring file of the system, by path relative to its ``monitoring/`` folder:
    for each profile, ``alert_rules.<profile>.yml``, ``alert_rules.<profile>.test.yml`` and
    ``dashboard.<profile>.json``."""
    if blueprint.validation is None:
        raise MonitoringError(
            f"blueprint of {blueprint.system!r} has no validation part; run all four agents "
            "(`sagacrew generate SPEC`) before generating monitoring"
        )
    files: dict[str, str] = {}
    for profile in sorted(blueprint.validation.profiles):
        rules = rule_file_name(profile)
        files[rules] = alert_rules(blueprint, profile)
        files[f"alert_rules.{profile}.test.yml"] = alert_rule_tests(
            blueprint, profile, rule_file=rules
        )
        model = dashboard(blueprint, profile)
        files[f"dashboard.{profile}.json"] = json.dumps(model, indent=2, sort_keys=True) + "\n"
    return files
