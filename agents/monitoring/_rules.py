"""The Prometheus rules file of a profile (``promtool check rules``)."""

from __future__ import annotations

from typing import Any

from sagacrew.agents.blueprint import Blueprint
from sagacrew.agents.monitoring._common import (
    _Alert,
    _Context,
    _context,
    _header,
    _Record,
    _yaml,
)
from sagacrew.agents.monitoring._plan import _plan


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
