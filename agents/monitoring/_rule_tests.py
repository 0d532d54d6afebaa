"""promtool unit tests (``promtool test rules``) of the alert rules: simulated series."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sagacrew.agents.blueprint import Blueprint
from sagacrew.agents.monitoring._common import (
    SEED_CONSISTENCY_MIN,
    SEED_SUCCESS_RATE_MIN,
    VERIFIED_FOR,
    _Alert,
    _Context,
    _context,
    _header,
    _yaml,
)
from sagacrew.agents.monitoring._plan import _alerts, _plan
from sagacrew.agents.monitoring._rules import rule_file_name
from sagacrew.runtime.metrics import LATENCY_BUCKETS_S

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
