"""Every monitoring file of a system, by path under its ``monitoring/`` folder."""

from __future__ import annotations

import json

from sagacrew.agents.blueprint import Blueprint
from sagacrew.agents.monitoring._common import MonitoringError
from sagacrew.agents.monitoring._dashboard import dashboard
from sagacrew.agents.monitoring._rule_tests import alert_rule_tests
from sagacrew.agents.monitoring._rules import alert_rules, rule_file_name


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
