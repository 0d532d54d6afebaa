"""The Grafana dashboard (JSON model) of a profile."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from sagacrew.agents.blueprint import Blueprint
from sagacrew.agents.monitoring._common import (
    SEED_CONSISTENCY_MIN,
    SEED_SUCCESS_RATE_MIN,
    _Context,
    _context,
    _pct,
)

GRAFANA_SCHEMA_VERSION = 39

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


def _ratio_panel(
    c: _Context, title: str, what: str, target: tuple[str, str], floor: tuple[float, float, str]
) -> _Panel:
    """A ratio (0 to 1) panel with one ``target`` (PromQL, legend format), gated at
    ``floor``: the profile's minimum, the seed's, and what happens below the seed's."""
    minimum, seed_min, below_seed = floor
    return _Panel(
        title,
        f"{what} Gate: >= {_pct(minimum)} ({c.profile}); {below_seed} below {_pct(seed_min)}.",
        (target,),
        _floor(minimum, seed_min),
        "percentunit",
        1.0,
    )


def _panels(c: _Context) -> list[_Panel]:
    t, m = c.thresholds, _SAGAS
    outcomes = ("started", "completed", "compensated", "compensation_failed", "stalled")
    return [
        _ratio_panel(
            c,
            "Saga success rate (5m)",
            "Completed / finished sagas over 5 minutes.",
            (f"sagacrew:saga_success_ratio:rate5m{m}", "{{saga}}"),
            (t.success_rate_min, SEED_SUCCESS_RATE_MIN, "SAGA-001"),
        ),
        _ratio_panel(
            c,
            "Consistency score",
            "Score of the last validation.",
            (f'sagacrew_consistency_score{{system="{c.system}"}}', "{{system}}"),
            (t.consistency_score_min, SEED_CONSISTENCY_MIN, "rollback"),
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
