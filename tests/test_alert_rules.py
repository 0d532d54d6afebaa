"""Generated monitoring: Prometheus alert rules (checked and unit-tested by promtool) and
the Grafana dashboard, for the three example systems and both threshold profiles."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from sagacrew.agents.blueprint import Blueprint
from sagacrew.agents.monitoring import SEED_CONSISTENCY_MIN
from sagacrew.agents.monitoring import SEED_SUCCESS_RATE_MIN
from sagacrew.agents.monitoring import MonitoringError
from sagacrew.agents.monitoring import alert_rule_tests
from sagacrew.agents.monitoring import alert_rules
from sagacrew.agents.monitoring import dashboard
from sagacrew.agents.monitoring import monitoring_files
from sagacrew.agents.monitoring import rule_file_name
from sagacrew.runtime.metrics import RuntimeMetrics

ROOT = Path(__file__).resolve().parent.parent
SYSTEMS = ("order_fulfilment", "user_provisioning", "ml_training")
PROFILES = ("dev", "prod")
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="install promtool (apt-get install prometheus)"
)
ALERTS = {
    "SagaSuccessRateBelowProfile": "SAGA-001",
    "SagaTransactionFailureDetected": "SAGA-001",
    "SagaStalled": "SAGA-001",
    "SagaStepLatencyP95AboveProfile": "SAGA-001",
    "SagaStepLatencyP99AboveProfile": "SAGA-001",
    "SagaCompensationFailed": "SAGA-002",
    "SagaDeadLetters": "SAGA-002",
    "ActorRestartsHigh": "SAGA-003",
    "ActorSupervisionFailed": "SAGA-003",
    "SagaConsistencyBelowProfile": "SAGA-004",
    "SagaConsistencyRollbackRequired": "SAGA-004",
    "SagaConsistencyVerified": "SAGA-004",
}


def blueprint(system: str) -> Blueprint:
    text = (ROOT / "generated" / system / "blueprint.json").read_text("utf-8")
    return Blueprint.model_validate_json(text)


def write_monitoring(system: str, folder: Path) -> Path:
    for name, text in monitoring_files(blueprint(system)).items():
        (folder / name).write_text(text, "utf-8")
    return folder


def promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run(
        [PROMTOOL, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def alerts_of(system: str, profile: str) -> dict[str, dict[str, Any]]:
    document = yaml.safe_load(alert_rules(blueprint(system), profile))
    return {
        rule["alert"]: rule
        for group in document["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }


# --- promtool ---------------------------------------------------------------------------


@needs_promtool
@pytest.mark.parametrize("system", SYSTEMS)
def test_generated_rules_pass_promtool_check_rules(system: str, tmp_path: Path) -> None:
    folder = write_monitoring(system, tmp_path)
    for profile in PROFILES:
        checked = promtool("check", "rules", rule_file_name(profile), cwd=folder)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert "SUCCESS: 16 rules found" in checked.stdout


@needs_promtool
@pytest.mark.slow
@pytest.mark.parametrize("system", SYSTEMS)
def test_every_alert_fires_under_simulated_failures_and_not_when_healthy(
    system: str, tmp_path: Path
) -> None:
    folder = write_monitoring(system, tmp_path)
    files = [f"alert_rules.{profile}.test.yml" for profile in PROFILES]
    tested = promtool("test", "rules", *files, cwd=folder)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert tested.stdout.count("SUCCESS") == len(PROFILES)


@needs_promtool
def test_the_promtool_tests_fail_when_a_rule_misses_its_threshold(tmp_path: Path) -> None:
    rules = alert_rules(blueprint("order_fulfilment"), "prod")
    broken = rules.replace("< 0.995", "< 0.5").replace("> 0.2\n", "> 9.0\n")
    assert broken != rules
    (tmp_path / "alert_rules.prod.yml").write_text(broken, "utf-8")
    tests = yaml.safe_load(alert_rule_tests(blueprint("order_fulfilment"), "prod"))
    tests["tests"] = [case for case in tests["tests"] if "held for" not in case["name"]]
    (tmp_path / "tests.yml").write_text(yaml.safe_dump(tests), "utf-8")
    tested = promtool("test", "rules", "tests.yml", cwd=tmp_path)
    report = tested.stdout + tested.stderr
    assert tested.returncode != 0
    assert "alertname: SagaSuccessRateBelowProfile" in report
    assert "alertname: SagaStepLatencyP95AboveProfile" in report
    assert "alertname: SagaTransactionFailureDetected" not in report


# --- the rules ---------------------------------------------------------------------------


@pytest.mark.parametrize("system", SYSTEMS)
@pytest.mark.parametrize("profile", PROFILES)
def test_each_profile_threshold_and_seed_trigger_has_its_alert(system: str, profile: str) -> None:
    thresholds = blueprint(system).validation.profiles[profile]  # type: ignore[union-attr]
    alerts = alerts_of(system, profile)
    assert set(alerts) == set(ALERTS)
    expected = {
        "SagaSuccessRateBelowProfile": f"< {thresholds.success_rate_min!r}",
        "SagaTransactionFailureDetected": f"< {SEED_SUCCESS_RATE_MIN!r}",
        "SagaStepLatencyP95AboveProfile": f"> {thresholds.step_latency_p95_ms_max / 1000!r}",
        "SagaStepLatencyP99AboveProfile": f"> {thresholds.step_latency_p99_ms_max / 1000!r}",
        "SagaConsistencyBelowProfile": f"< {thresholds.consistency_score_min!r}",
        "SagaConsistencyRollbackRequired": f"< {SEED_CONSISTENCY_MIN!r}",
        "SagaConsistencyVerified": f">= {thresholds.consistency_score_min!r}",
    }
    for name, comparison in expected.items():
        assert alerts[name]["expr"].endswith(comparison), (name, alerts[name]["expr"])
    assert alerts["SagaConsistencyVerified"]["for"] == "24h"


@pytest.mark.parametrize("system", SYSTEMS)
def test_every_alert_has_severity_trigger_and_a_runbook_naming_a_sagacrew_command(
    system: str,
) -> None:
    for name, rule in alerts_of(system, "prod").items():
        labels, annotations = rule["labels"], rule["annotations"]
        assert labels["trigger"] == ALERTS[name]
        assert labels["severity"] in {"info", "warning", "critical"}
        assert labels["system"] == system
        assert labels["profile"] == "prod"
        assert annotations["summary"]
        assert re.search(rf"`sagacrew [a-z -]+ generated/{system}\b", annotations["runbook"])


def test_rollback_triggers_of_the_seed_are_labelled() -> None:
    rollback = {
        name for name, rule in alerts_of("order_fulfilment", "prod").items()
        if rule["labels"]["rollback"] == "true"
    }  # fmt: skip
    assert rollback == {
        "SagaTransactionFailureDetected",
        "SagaCompensationFailed",
        "SagaConsistencyRollbackRequired",
    }


def test_windows_follow_the_dossier_five_minutes_for_success_one_for_latency() -> None:
    document = yaml.safe_load(alert_rules(blueprint("order_fulfilment"), "prod"))
    records = {
        rule["record"]: rule["expr"]
        for group in document["groups"]
        for rule in group["rules"]
        if "record" in rule
    }
    assert "[5m]" in records["sagacrew:saga_success_ratio:rate5m"]
    for name in ("p95", "p99"):
        expr = records[f"sagacrew:saga_step_latency_seconds:{name}_1m"]
        assert expr.startswith(f"histogram_quantile(0.{name[1:]}, ")
        assert "[1m]" in expr


def test_saga_metrics_are_scoped_to_the_systems_sagas() -> None:
    rules = alert_rules(blueprint("ml_training"), "dev")
    assert 'saga=~"train_model"' in rules
    assert 'sagacrew_consistency_score{system="ml_training"}' in rules


def test_rules_use_only_metrics_the_runtime_exports() -> None:
    exported = {
        line.split()[2]
        for line in RuntimeMetrics().exposition().decode().splitlines()
        if line.startswith("# TYPE")
    }
    names = set()
    for family in exported:
        names.add(family if not family.endswith("_seconds") else family + "_bucket")
        names.add(family + "_total")
    used = set(re.findall(r"\bsagacrew_[a-z_]+", alert_rules(blueprint("order_fulfilment"), "dev")))
    assert used <= names, used - names


@pytest.mark.parametrize("system", SYSTEMS)
def test_monitoring_output_is_byte_identical_across_runs(system: str) -> None:
    first, second = monitoring_files(blueprint(system)), monitoring_files(blueprint(system))
    assert first == second
    assert sorted(first) == [
        "alert_rules.dev.test.yml",
        "alert_rules.dev.yml",
        "alert_rules.prod.test.yml",
        "alert_rules.prod.yml",
        "dashboard.dev.json",
        "dashboard.prod.json",
    ]
    assert first["alert_rules.dev.yml"].startswith(
        f"# Generated by sagacrew from {system}.yaml (`sagacrew generate`)."
    )
    assert yaml.safe_load(first["alert_rules.prod.test.yml"])["rule_files"] == [
        "alert_rules.prod.yml"
    ]


def test_an_unknown_profile_is_refused_with_the_known_ones() -> None:
    with pytest.raises(MonitoringError, match=r"unknown threshold profile 'staging'.*'dev'"):
        alert_rules(blueprint("order_fulfilment"), "staging")


def test_a_blueprint_without_its_agents_parts_is_refused() -> None:
    bare = Blueprint(system="bare", title="", spec_file="bare.yaml")
    with pytest.raises(MonitoringError, match="sagacrew generate"):
        dashboard(bare, "dev")


# --- the dashboard ------------------------------------------------------------------------


def steps(panel: dict[str, Any]) -> list[tuple[str, float | None]]:
    thresholds = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
    return [(step["color"], step["value"]) for step in thresholds]


@pytest.mark.parametrize("system", SYSTEMS)
@pytest.mark.parametrize("profile", PROFILES)
def test_dashboard_draws_the_profile_thresholds_on_the_three_metrics(
    system: str, profile: str
) -> None:
    thresholds = blueprint(system).validation.profiles[profile]  # type: ignore[union-attr]
    model = dashboard(blueprint(system), profile)
    panels = {panel["title"]: panel for panel in model["panels"]}
    assert list(panels) == [
        "Saga success rate (5m)",
        "Consistency score",
        "Step latency p95 (1m)",
        "Step latency p99 (1m)",
        "Saga outcomes (per 5m)",
        "Compensations (per 5m)",
        "Dead letters (per 5m)",
        "Actor restarts (per 5m)",
    ]
    assert all(panel["type"] == "timeseries" for panel in panels.values())
    success = steps(panels["Saga success rate (5m)"])
    assert success[0] == ("red", None)
    assert success[-1][0] == "green"
    assert {value for _, value in success[1:]} == {
        thresholds.success_rate_min,
        SEED_SUCCESS_RATE_MIN,
    }
    consistency = {value for _, value in steps(panels["Consistency score"])[1:]}
    assert consistency == {thresholds.consistency_score_min, SEED_CONSISTENCY_MIN}
    assert steps(panels["Step latency p95 (1m)"]) == [
        ("green", None),
        ("red", thresholds.step_latency_p95_ms_max / 1000),
    ]
    assert steps(panels["Step latency p99 (1m)"]) == [
        ("green", None),
        ("red", thresholds.step_latency_p99_ms_max / 1000),
    ]
    assert panels["Step latency p95 (1m)"]["fieldConfig"]["defaults"]["unit"] == "s"
    expr = panels["Step latency p99 (1m)"]["targets"][0]["expr"]
    assert expr == 'sagacrew:saga_step_latency_seconds:p99_1m{saga=~"$saga"}'


def test_dashboard_has_stable_ids_a_relative_time_range_and_no_timestamps() -> None:
    model = dashboard(blueprint("user_provisioning"), "prod")
    assert model["uid"] == "sagacrew-user_provisioning-prod"
    assert model["schemaVersion"] >= 36
    assert [panel["id"] for panel in model["panels"]] == list(range(1, 9))
    assert model["time"] == {"from": "now-6h", "to": "now"}
    text = json.dumps(model, sort_keys=True)
    assert not re.search(r"\d{4}-\d{2}-\d{2}|\d{10}", text), "no dates or epoch stamps"
    variables = {variable["name"]: variable for variable in model["templating"]["list"]}
    assert variables["saga"]["query"] == "provision_user"
    assert variables["datasource"]["query"] == "prometheus"
    positions = {(p["gridPos"]["x"], p["gridPos"]["y"]) for p in model["panels"]}
    assert len(positions) == len(model["panels"]), "panels do not overlap"
