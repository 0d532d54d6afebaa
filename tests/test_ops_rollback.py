"""The seed's rollback procedure on the generated order_fulfilment system."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from collections.abc import Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from order_example import APP
from order_example import order_input
from order_example import order_system

from sagacrew.runtime import SagaDefinition
from sagacrew.runtime import SagaState
from sagacrew.runtime import SagaStep
from sagacrew.runtime import SagaSystem
from sagacrew.runtime import StepContext
from sagacrew.runtime.operations import RollbackReport
from sagacrew.runtime.operations import RollbackStep
from sagacrew.runtime.operations import SystemNotStartedError
from sagacrew.runtime.operations import Validation
from sagacrew.runtime.operations import rollback
from sagacrew.runtime.saga import SagaPaused


class Gate:
    """A saga step that waits until the test opens it, and says when it is waiting."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.opened = asyncio.Event()

    async def create(self, ctx: StepContext) -> Mapping[str, Any]:
        self.entered.set()
        await self.opened.wait()
        return await ctx.send(
            "ordering.order",
            "create_order",
            {"order_id": ctx.data["order_id"], "consumer_id": "c-1", "total_cents": 100},
        )

    @staticmethod
    async def undo(ctx: StepContext) -> Mapping[str, Any]:
        return await ctx.send("ordering.order", "_delete", {"order_id": ctx.data["order_id"]})


def gated_system(url: str, gate: Gate) -> SagaSystem:
    """order_fulfilment's actors and sagas, plus ``gated_order``: one step held by ``gate``."""
    gated = SagaDefinition(
        name="gated_order",
        steps=(SagaStep("create_order", gate.create, gate.undo, timeout_s=60.0),),
        deadline_s=120.0,
    )
    return order_system(url, gated)


EVERY_STEP_OK = [
    (name, "ok") for name in ("pause", "drain", "restore", "replay_check", "validate", "resume")
]
"""A rollback that went through: every step ok, in order."""


def steps(report: RollbackReport) -> list[tuple[str, str]]:
    return [(step.name, step.outcome) for step in report.steps]


@asynccontextmanager
async def saga_in_flight(
    url: str, gate: Gate, order_id: str
) -> AsyncIterator[tuple[SagaSystem, str]]:
    """The gated system on ``url``, started, with a ``gated_order`` saga in flight: the
    system and the saga's id once its step is held at ``gate``."""
    system = gated_system(url, gate)
    async with system:
        assert system.orchestrator is not None
        saga_id = await system.orchestrator.start("gated_order", {"order_id": order_id})
        await gate.entered.wait()
        yield system, saga_id


def test_rollback_pauses_during_the_drain_refuses_new_sagas_then_resumes(sqlite_url: str) -> None:
    gate = Gate()

    async def scenario() -> tuple[RollbackReport, str, str]:
        async with saga_in_flight(sqlite_url, gate, "o-1") as (system, in_flight):
            assert system.orchestrator is not None
            paused = asyncio.Event()

            def on_step(step: RollbackStep) -> None:
                if step.name == "pause":
                    paused.set()

            task = asyncio.create_task(
                rollback(system, drain_timeout_s=30.0, validate=lambda: True, on_step=on_step)
            )
            await paused.wait()
            assert system.orchestrator.paused
            with pytest.raises(SagaPaused):
                await system.run_saga("create_order", order_input(1))
            assert not task.done(), "the rollback must wait for the saga in flight"
            gate.opened.set()
            report = await task
            drained = await system.orchestrator.wait(in_flight)
            after = await system.run_saga("create_order", order_input(2))
            return report, drained.state.value, after.state.value

    report, drained_state, after_state = asyncio.run(scenario())
    assert drained_state == "completed"
    assert steps(report) == EVERY_STEP_OK
    assert report.resumed and report.validation_passed is True
    assert after_state == "completed", "new sagas are accepted again after the resume"


def test_rollback_checks_replay_against_every_snapshot(sqlite_url: str) -> None:
    async def scenario() -> RollbackReport:
        async with APP.build_system(sqlite_url) as system:
            for index in range(3):
                result = await system.run_saga("create_order", order_input(index))
                assert result.state is SagaState.COMPLETED
            report: RollbackReport = await rollback(
                system, drain_timeout_s=5.0, validate=lambda: True
            )
            return report

    report = asyncio.run(scenario())
    assert report.replay is not None
    # every order is created then approved: 2 events, and orders snapshot every 2 events
    assert report.replay.snapshots >= 3
    assert report.replay.instances >= 6
    assert report.replay.ok and report.resumed


def test_rollback_stays_paused_when_a_snapshot_differs_from_replay(sqlite_url: str) -> None:
    async def scenario() -> tuple[RollbackReport, bool]:
        async with APP.build_system(sqlite_url) as system:
            result = await system.run_saga("create_order", order_input(0))
            stream = f"ordering.order:{result.data['order_id']}"
            snapshot = system.store.load_snapshot(stream)
            assert snapshot is not None
            forged = {**snapshot.state, "state": {**snapshot.state["state"], "total_cents": 1}}
            system.store.save_snapshot(stream, snapshot.version, forged)
            report: RollbackReport = await rollback(
                system, drain_timeout_s=5.0, validate=lambda: True
            )
            assert system.orchestrator is not None
            return report, system.orchestrator.paused

    report, paused = asyncio.run(scenario())
    assert paused and not report.resumed
    assert report.replay is not None and report.replay.mismatch_count == 1
    assert report.replay.mismatches[0].startswith("ordering.order:")
    assert ("replay_check", "failed") in steps(report)
    assert ("resume", "skipped") in steps(report)
    assert "snapshots" in report.reason


def test_rollback_stays_paused_and_says_why_when_validation_fails(tmp_path: Path) -> None:
    async def scenario() -> tuple[RollbackReport, type[BaseException] | None]:
        async with APP.build_system(f"sqlite://{tmp_path / 'store.db'}") as system:
            report: RollbackReport = await rollback(
                system,
                drain_timeout_s=5.0,
                validate=lambda: Validation(False, "consistency score 90.00 % < 95.00 %"),
                report_dir=tmp_path / "reports",
            )
            try:
                await system.run_saga("create_order", order_input(0))
            except SagaPaused as refused:
                return report, type(refused)
            return report, None

    report, refused = asyncio.run(scenario())
    assert refused is SagaPaused, "the system must stay paused"
    assert not report.resumed and report.validation_passed is False
    assert ("validate", "failed") in steps(report) and ("resume", "skipped") in steps(report)
    assert "90.00 %" in report.reason
    assert report.markdown_path is not None and report.json_path is not None
    markdown = report.markdown_path.read_text("utf-8")
    assert "STAYS PAUSED" in markdown and "| 5 | validate | FAILED |" in markdown
    written = json.loads(report.json_path.read_text("utf-8"))
    assert written["resumed"] is False
    assert [s["name"] for s in written["steps"]] == [name for name, _ in steps(report)]


def test_a_validation_that_raises_counts_as_failed(sqlite_url: str) -> None:
    def broken() -> bool:
        raise RuntimeError("validator crashed")

    async def scenario() -> RollbackReport:
        async with APP.build_system(sqlite_url) as system:
            report: RollbackReport = await rollback(system, drain_timeout_s=5.0, validate=broken)
            return report

    report = asyncio.run(scenario())
    assert not report.resumed
    assert "validator crashed" in report.reason


def test_rollback_does_not_restore_actors_under_sagas_still_in_flight(sqlite_url: str) -> None:
    gate = Gate()

    async def scenario() -> tuple[RollbackReport, str, bool]:
        async with saga_in_flight(sqlite_url, gate, "o-9") as (system, saga_id):
            assert system.orchestrator is not None
            report = await rollback(system, drain_timeout_s=0.05, validate=lambda: True)
            paused = system.orchestrator.paused
            gate.opened.set()
            return report, saga_id, paused

    report, saga_id, paused = asyncio.run(scenario())
    assert paused and not report.resumed
    assert report.in_flight_left == (saga_id,)
    assert steps(report) == [
        ("pause", "ok"),
        ("drain", "failed"),
        ("restore", "skipped"),
        ("replay_check", "skipped"),
        ("validate", "skipped"),
        ("resume", "skipped"),
    ]
    assert report.replay is None and report.validation_passed is None


def test_rollback_needs_a_started_system(sqlite_url: str) -> None:
    system = APP.build_system(sqlite_url)
    with pytest.raises(SystemNotStartedError, match="start"):
        asyncio.run(rollback(system, drain_timeout_s=1.0, validate=lambda: True))
