"""The fault plan is executed: ``verify`` runs every planned scenario as a targeted
experiment and lists it in the verdict with its outcome; a scenario whose expectation
the system does not meet is reported failed and fails the verdict."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from cli_helpers import copy_of_generated

from sagacrew.agents.blueprint import FaultExpectation
from sagacrew.agents.generated import GeneratedSystem
from sagacrew.agents.generated import open_generated
from sagacrew.agents.spec import load_spec
from sagacrew.agents.validator.fault_expectations import expected_outcome
from sagacrew.agents.validator.verdict import Verdict
from sagacrew.agents.validator.verification.fault_scenarios import describe_expectation
from sagacrew.agents.validator.verification.fault_scenarios import judge
from sagacrew.agents.validator.verification.fault_scenarios import run_scenario
from sagacrew.agents.validator.verification.scenario_experiments import Observation
from sagacrew.agents.validator.verification.scenario_system import scenario_store_url
from sagacrew.agents.validator.verification.verify import verify
from sagacrew.crew.pipeline import design

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def order(tmp_path_factory: pytest.TempPathFactory) -> GeneratedSystem:
    """A copy of the generated order system (its reports go to the copy's state dir)."""
    return open_generated(
        copy_of_generated("order_fulfilment", tmp_path_factory.mktemp("scenarios"))
    )


def _quick_verify(system: GeneratedSystem, tmp_path: Path) -> Verdict:
    result = verify(
        system,
        store_url=f"sqlite:///{tmp_path / 'v.db'}",
        run_tests=False,
        crash_run=False,
        contention_run=False,
        redeploy_run=False,
    )
    return result.verdict


def test_verify_lists_every_planned_scenario_with_its_passing_outcome(
    order: GeneratedSystem, tmp_path: Path
) -> None:
    assert order.blueprint.validation is not None
    planned = order.blueprint.validation.faults
    assert {s.kind for s in planned} == {
        "step_failure",
        "business_failure",
        "compensation_failure",
        "lost_reply",
        "process_crash",
        "duplicate_delivery",
    }
    verdict = _quick_verify(order, tmp_path)
    assert [s.name for s in verdict.scenarios] == [s.name for s in planned]
    for outcome, scenario in zip(verdict.scenarios, planned, strict=True):
        assert outcome.passed, (outcome.name, outcome.unmet, outcome.observed)
        assert (outcome.kind, outcome.saga) == (scenario.kind, scenario.saga)
        assert outcome.step is not None and outcome.saga_ids and outcome.fault
    by_kind = {s.kind: s for s in verdict.scenarios}
    assert "compensated create_ticket > create_order" in by_kind["business_failure"].observed
    assert "redriven" in by_kind["compensation_failure"].observed
    assert "2 recovered" in by_kind["process_crash"].observed
    assert by_kind["lost_reply"].observed.endswith("each command acted once")
    [gate] = [g for g in verdict.gates if g.name == "fault_scenarios"]
    assert gate.passed and gate.measured == 0

    reports = order.state_dir / "reports"
    listed = json.loads((reports / "verdict.json").read_text())["scenarios"]
    assert [(s["name"], s["passed"]) for s in listed] == [(s.name, True) for s in planned]
    markdown = (reports / "verdict.md").read_text()
    assert "## Fault scenarios" in markdown
    for scenario in planned:
        [row] = [line for line in markdown.splitlines() if line.startswith(f"| {scenario.name} |")]
        assert row.endswith("| PASS |")


def test_a_scenario_the_system_does_not_meet_is_failed_and_fails_the_verdict(
    order: GeneratedSystem, tmp_path: Path
) -> None:
    assert order.blueprint.validation is not None
    [refusal] = [s for s in order.blueprint.validation.faults if s.kind == "business_failure"]
    wrong = refusal.model_copy(update={"expect": FaultExpectation(ends="completed")})
    validation = order.blueprint.validation.model_copy(update={"faults": [wrong]})
    system = dataclasses.replace(
        order, blueprint=order.blueprint.model_copy(update={"validation": validation})
    )
    verdict = _quick_verify(system, tmp_path)
    [outcome] = verdict.scenarios
    assert not outcome.passed
    assert outcome.unmet == [
        f"expected every saga to end completed, but {outcome.saga_ids[0]} compensated"
    ]
    assert not verdict.passed
    [gate] = [g for g in verdict.gates if g.name == "fault_scenarios"]
    assert not gate.passed and gate.measured == 1
    markdown = (order.state_dir / "reports" / "verdict.md").read_text()
    [row] = [line for line in markdown.splitlines() if line.startswith(f"| {refusal.name} |")]
    assert "| FAIL: expected every saga to end completed" in row


def test_an_experiment_that_cannot_run_is_a_failed_scenario(
    order: GeneratedSystem, tmp_path: Path
) -> None:
    assert order.blueprint.validation is not None
    [retry] = [s for s in order.blueprint.validation.faults if s.kind == "step_failure"]
    url = scenario_store_url(f"sqlite:///{tmp_path / 'v.db'}")
    outcome = run_scenario(order, retry.model_copy(update={"step": "no_such_step"}), url, url)
    assert not outcome.passed
    assert "no step 'no_such_step'" in outcome.unmet[0]


def test_judging_catches_each_unmet_expectation() -> None:
    everything = FaultExpectation(
        ends="compensated",
        retried=True,
        compensated_in_reverse=True,
        dead_lettered=True,
        recovered=True,
    )
    good = Observation(
        "fault",
        "b",
        injected=True,
        states={"s-1": "compensated"},
        attempts=2,
        compensated=["b", "a"],
        undone={"a", "b"},
        done=["b", "a"],
        dead_letters=["redriven"],
        recovered=["s-1"],
        killed_in="s-1",
    )
    assert judge(good, everything) == []
    bad = dataclasses.replace(
        good,
        injected=False,
        attempts=1,
        compensated=["a", "b"],
        dead_letters=["parked"],
        recovered=[],
        repeated=["ordering.order:o-1: ordering.order.created x2"],
    )
    assert judge(bad, everything) == [
        "the fault was not injected",
        "expected a retry, but the faulted step ran 1 time(s)",
        "expected compensations b > a, got a > b",
        "expected a dead-lettered compensation redriven to its end",
        "a dead letter is still parked",
        "expected the restart to recover s-1",
        "a command acted more than once: ordering.order:o-1: ordering.order.created x2",
    ]
    never = dataclasses.replace(good, undone={"b"})
    assert judge(never, everything) == ["compensations never succeeded: a"]


def test_the_plan_states_each_scenarios_expected_outcome() -> None:
    spec_path = ROOT / "examples" / "order_fulfilment.yaml"
    blueprint = design(load_spec(spec_path), str(spec_path))
    assert blueprint.validation is not None
    for scenario in blueprint.validation.faults:
        assert scenario.expect == expected_outcome(scenario.kind)
    assert describe_expectation(expected_outcome("business_failure")) == (
        "ends compensated; done steps compensated in reverse order; every command acts once"
    )


def test_a_verdict_without_scenarios_reports_none() -> None:
    verdict = Verdict("s", "dev", 0, 1.0, 0.0, 0.0, 1.0, [], [], [], True)
    assert verdict.to_dict()["scenarios"] == []
    assert "## Fault scenarios\n\nNone run." in verdict.to_markdown()
