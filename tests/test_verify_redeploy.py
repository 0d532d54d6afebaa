"""Verify's redeploy phase: a workload on version N is killed, the system restarts with
version N+1 of every saga current (a step added after the pivot, a compensation
changed), and every saga must end on the plan it started on. It passes on the order
example and reports the saga when recovery ignores versions or lacks version N."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import copy_of_generated

from sagacrew.agents.generated import GeneratedSystem
from sagacrew.agents.generated import open_generated
from sagacrew.agents.validator.verification.redeploy import REDEPLOY_MARK
from sagacrew.agents.validator.verification.redeploy import next_version
from sagacrew.agents.validator.verification.redeploy import run_redeploy
from sagacrew.agents.validator.verification.verify import verify
from sagacrew.runtime.saga import SagaOrchestrator
from sagacrew.runtime.saga._driving import SagaDriving
from sagacrew.runtime.store import SagaExecution


@pytest.fixture(scope="module")
def order(tmp_path_factory: pytest.TempPathFactory) -> GeneratedSystem:
    """A copy of the generated order system (its reports go to the copy's state dir)."""
    return open_generated(
        copy_of_generated("order_fulfilment", tmp_path_factory.mktemp("redeploy"))
    )


def test_next_version_adds_a_read_only_step_after_the_pivot_and_tags_a_compensation(
    order: GeneratedSystem,
) -> None:
    (current,) = order.definition.sagas
    nxt = next_version(current)
    new = nxt.definition
    assert new.version != current.version and new.pivot_index == current.pivot_index
    assert [s.name for s in new.steps] == [*(s.name for s in current.steps), nxt.added_step]
    assert new.steps[-1].read_only and nxt.added_step == "validate_consumer_again"
    assert nxt.changed_compensation == "create_order"
    assert new.steps[0].compensation is not current.steps[0].compensation
    assert "compensation of create_order replaced" in nxt.change


def test_verify_reports_every_saga_keeping_its_plan_across_the_redeploy(
    order: GeneratedSystem, tmp_path: Path
) -> None:
    result = verify(
        order,
        store_url=f"sqlite:///{tmp_path / 'v.db'}",
        run_tests=False,
        crash_run=False,
        contention_run=False,
        scenario_run=False,
    )
    verdict = result.verdict
    [gate] = [g for g in verdict.gates if g.name == "redeploy_keeps_plans"]
    [outcome] = verdict.redeploy
    assert gate.passed and gate.measured == 0, outcome.unmet
    assert outcome.passed and outcome.saga == "create_order"
    assert "in flight at the kill" in outcome.observed
    assert "validate_consumer_again added after the pivot" in outcome.change
    report = (order.state_dir / "reports" / "verdict.md").read_text()
    assert "## Redeploy" in report and outcome.to_version in report
    listed = json.loads((order.state_dir / "reports" / "verdict.json").read_text())
    assert listed["redeploy"][0]["passed"] is True


def test_the_new_version_compensates_new_sagas_and_the_old_one_old_sagas(
    order: GeneratedSystem, tmp_path: Path
) -> None:
    [outcome] = run_redeploy(order, f"sqlite:///{tmp_path / 'v.db'}")
    assert outcome.passed, outcome.unmet
    from sagacrew.runtime import open_store

    store = open_store(f"sqlite:///{tmp_path / 'v-redeploy.db'}")
    try:
        marks = {
            saga.saga_id: REDEPLOY_MARK in (row.result or {})
            for saga in store.list_sagas()
            for row in store.step_log(saga.saga_id)
            if row.phase == "compensation" and row.status == "succeeded" and row.step_index == 0
        }
    finally:
        store.close()
    assert any(marks[s] for s in marks if s.startswith("redeploy-"))
    assert not any(marks[s] for s in marks if s.startswith("crash-"))


def test_the_gate_reports_the_saga_when_recovery_ignores_the_version_it_started_on(
    order: GeneratedSystem, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def current_plan(self: SagaDriving, saga: SagaExecution) -> Any:
        return self._definitions.get(saga.saga_name)

    monkeypatch.setattr(SagaDriving, "_plan_of", current_plan)
    [outcome] = run_redeploy(order, f"sqlite:///{tmp_path / 'v.db'}")
    assert not outcome.passed
    assert any(u.startswith("crash-create_order-") for u in outcome.unmet), outcome.unmet
    assert any("not in its plan" in u or "compensation" in u for u in outcome.unmet)


def test_the_gate_reports_the_refusal_when_the_restart_lacks_version_n(
    order: GeneratedSystem, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = SagaOrchestrator.__init__

    def without_earlier(self: SagaOrchestrator, *args: Any, **kwargs: Any) -> None:
        kwargs["earlier"] = ()
        original(self, *args, **kwargs)

    monkeypatch.setattr(SagaOrchestrator, "__init__", without_earlier)
    [outcome] = run_redeploy(order, f"sqlite:///{tmp_path / 'v.db'}")
    assert not outcome.passed
    assert "the restart refused" in outcome.unmet[0]
    assert any("did not end" in u for u in outcome.unmet), outcome.unmet
