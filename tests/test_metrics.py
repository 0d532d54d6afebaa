"""Prometheus metrics of the runtime: sagas of a generated system, actors, exposition."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from async_helpers import async_test
from async_helpers import run
from order_example import APP
from order_example import CREATE_ORDER_STEPS
from order_example import order_input
from order_example import order_system
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from sagacrew.runtime import Actor
from sagacrew.runtime import ActorSystem
from sagacrew.runtime import ChildSpec
from sagacrew.runtime import SagaDefinition
from sagacrew.runtime import SagaOrchestrator
from sagacrew.runtime import SagaState
from sagacrew.runtime import SagaStep
from sagacrew.runtime import SagaSystem
from sagacrew.runtime import ScriptedFault
from sagacrew.runtime import ScriptedFaults
from sagacrew.runtime import StepContext
from sagacrew.runtime import SupervisorSpec
from sagacrew.runtime import open_store
from sagacrew.runtime.actors import WhichChildren
from sagacrew.runtime.metrics import LATENCY_BUCKETS_S
from sagacrew.runtime.metrics import RuntimeMetrics
from sagacrew.runtime.saga import Alert
from sagacrew.runtime.saga import SagaListener

SAGA = "create_order"
STEPS = CREATE_ORDER_STEPS


def build(
    tmp_path: Path,
    metrics: RuntimeMetrics,
    faults: ScriptedFaults | None = None,
    alerts: list[Alert] | None = None,
) -> SagaSystem:
    """The generated order_fulfilment system on a fresh SQLite store, with metrics."""
    return order_system(
        f"sqlite:///{tmp_path / 'state.db'}",
        faults=faults,
        metrics=metrics,
        on_alert=None if alerts is None else alerts.append,
    )


def value(metrics: RuntimeMetrics, name: str, **labels: str) -> float | None:
    return metrics.sample(name, labels)


def latency_counts(metrics: RuntimeMetrics) -> dict[str, float | None]:
    return {
        step: value(metrics, "sagacrew_saga_step_latency_seconds_count", saga=SAGA, step=step)
        for step in STEPS
    }


# --- sagas of a generated system -------------------------------------------------------


def test_completed_sagas_count_started_completed_and_one_latency_per_step(tmp_path: Path) -> None:
    metrics = RuntimeMetrics()

    async def body() -> None:
        async with build(tmp_path, metrics) as system:
            for index in range(3):
                result = await system.run_saga(SAGA, order_input(index))
                assert result.state == SagaState.COMPLETED, result.error

    run(body())
    assert value(metrics, "sagacrew_sagas_started_total", saga=SAGA) == 3
    assert value(metrics, "sagacrew_sagas_completed_total", saga=SAGA) == 3
    for outcome in ("compensated", "compensation_failed", "stalled"):
        assert value(metrics, f"sagacrew_sagas_{outcome}_total", saga=SAGA) == 0
    assert latency_counts(metrics) == dict.fromkeys(STEPS, 3)
    total_s = sum(
        value(metrics, "sagacrew_saga_step_latency_seconds_sum", saga=SAGA, step=step) or 0.0
        for step in STEPS
    )
    assert 0.0 < total_s < 5.0
    assert value(metrics, "sagacrew_step_retries_total", saga=SAGA, step="confirm_ticket") == 0


def test_a_refusal_before_the_pivot_counts_a_compensated_saga_and_each_compensation(
    tmp_path: Path,
) -> None:
    metrics = RuntimeMetrics()
    faults = ScriptedFaults().add(ScriptedFault(SAGA, "authorize_card"))

    async def body() -> None:
        async with build(tmp_path, metrics, faults) as system:
            result = await system.run_saga(SAGA, order_input(0))
            assert result.state == SagaState.COMPENSATED, result.error

    run(body())
    assert value(metrics, "sagacrew_sagas_compensated_total", saga=SAGA) == 1
    assert value(metrics, "sagacrew_sagas_completed_total", saga=SAGA) == 0
    for step in ("create_ticket", "create_order"):
        assert value(metrics, "sagacrew_compensations_total", saga=SAGA, step=step) == 1
    counts = latency_counts(metrics)
    assert counts["create_ticket"] == 1
    assert counts["authorize_card"] == 0, "only steps that succeeded are timed"
    assert counts["approve_order"] == 0


def test_retries_after_the_pivot_are_counted_per_step(tmp_path: Path) -> None:
    metrics = RuntimeMetrics()
    faults = ScriptedFaults().add(ScriptedFault(SAGA, "confirm_ticket", retriable=True, times=2))

    async def body() -> None:
        async with build(tmp_path, metrics, faults) as system:
            result = await system.run_saga(SAGA, order_input(0))
            assert result.state == SagaState.COMPLETED, result.error

    run(body())
    assert value(metrics, "sagacrew_step_retries_total", saga=SAGA, step="confirm_ticket") == 2
    assert value(metrics, "sagacrew_step_retries_total", saga=SAGA, step="approve_order") == 0
    assert value(metrics, "sagacrew_sagas_completed_total", saga=SAGA) == 1
    assert latency_counts(metrics)["confirm_ticket"] == 1


def test_a_dead_lettered_compensation_is_counted_alerted_and_its_redrive_counted(
    tmp_path: Path,
) -> None:
    metrics = RuntimeMetrics()
    alerts: list[Alert] = []
    faults = ScriptedFaults()
    faults.add(ScriptedFault(SAGA, "validate_consumer"))
    faults.add(ScriptedFault(SAGA, "create_order", phase="compensation", retriable=True, times=3))

    async def body() -> None:
        async with build(tmp_path, metrics, faults, alerts) as system:
            result = await system.run_saga(SAGA, order_input(0))
            assert result.state == SagaState.COMPENSATION_FAILED
            assert value(metrics, "sagacrew_sagas_compensation_failed_total", saga=SAGA) == 1
            assert value(metrics, "sagacrew_dead_letters_total", kind="compensation") == 1
            assert value(metrics, "sagacrew_compensations_total", saga=SAGA, step=SAGA) == 0
            assert system.orchestrator is not None
            (parked,) = system.orchestrator.list_dead_letters()
            assert parked.id is not None
            faults.clear()
            redriven = await system.orchestrator.redrive(parked.id)
            assert redriven.state == SagaState.COMPENSATED

    run(body())
    assert [alert.kind for alert in alerts] == ["compensation_failed"]
    assert value(metrics, "sagacrew_step_retries_total", saga=SAGA, step=SAGA) == 2
    assert value(metrics, "sagacrew_compensations_total", saga=SAGA, step=SAGA) == 1
    assert value(metrics, "sagacrew_sagas_compensated_total", saga=SAGA) == 1


def test_declared_sagas_export_every_label_set_at_zero_before_any_run(tmp_path: Path) -> None:
    metrics = RuntimeMetrics()
    metrics.declare_sagas(APP.SAGAS)
    for outcome in ("started", "completed", "compensated", "compensation_failed", "stalled"):
        assert value(metrics, f"sagacrew_sagas_{outcome}_total", saga=SAGA) == 0
    assert latency_counts(metrics) == dict.fromkeys(STEPS, 0)
    assert value(metrics, "sagacrew_compensations_total", saga=SAGA, step="create_ticket") == 0
    no_compensation = value(
        metrics, "sagacrew_compensations_total", saga=SAGA, step="validate_consumer"
    )
    assert no_compensation is None, "a read-only step has no compensation to count"
    for kind in ("compensation", "actor_stopped", "actor_cancelled", "actor_unhandled"):
        assert value(metrics, "sagacrew_dead_letters_total", kind=kind) == 0


# --- the orchestrator's listeners ------------------------------------------------------


class Recorder(SagaListener):
    """Records the hooks it is told about (the no-op defaults cover the others)."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def on_saga_started(self, saga_name: str, saga_id: str) -> None:
        self.calls.append(("started", saga_name))

    def on_saga_finished(self, saga_name: str, saga_id: str, state: SagaState) -> None:
        self.calls.append(("finished", saga_name, state))

    def on_step_finished(self, saga_name: str, step_name: str, latency_s: float, ok: bool) -> None:
        self.calls.append(("step", step_name, ok))


class Broken(SagaListener):
    def on_step_finished(self, saga_name: str, step_name: str, latency_s: float, ok: bool) -> None:
        raise RuntimeError("listener bug")


async def _ok(context: StepContext) -> Mapping[str, Any]:
    return {"step": context.step_name}


async def _refuse(context: StepContext) -> Mapping[str, Any]:
    from sagacrew.runtime import StepFailed

    raise StepFailed("refused", retriable=False)


def orchestrate(steps: Sequence[SagaStep], listeners: Sequence[SagaListener]) -> SagaState:
    async def dispatch(target: str, envelope: Any) -> Mapping[str, Any]:
        raise AssertionError("these steps dispatch nothing")

    async def body() -> SagaState:
        store = open_store("sqlite://:memory:")
        orchestrator = SagaOrchestrator(
            store, [SagaDefinition("demo", steps)], dispatch=dispatch, listeners=listeners
        )
        result = await orchestrator.run("demo", {})
        await orchestrator.close()
        store.close()
        return result.state

    return asyncio.run(asyncio.wait_for(body(), 10.0))


def test_listeners_hear_start_each_step_and_the_terminal_state_in_order() -> None:
    recorder = Recorder()
    steps = [SagaStep("a", _ok, compensation=_ok), SagaStep("b", _refuse, compensation=_ok)]
    assert orchestrate(steps, [recorder]) == SagaState.COMPENSATED
    assert recorder.calls == [
        ("started", "demo"),
        ("step", "a", True),
        ("step", "b", False),
        ("finished", "demo", SagaState.COMPENSATED),
    ]


def test_a_failing_listener_never_changes_the_saga_and_the_others_still_hear(
    caplog: pytest.LogCaptureFixture,
) -> None:
    recorder = Recorder()
    state = orchestrate([SagaStep("a", _ok, compensation=_ok)], [Broken(), recorder])
    assert state == SagaState.COMPLETED
    assert ("finished", "demo", SagaState.COMPLETED) in recorder.calls
    assert "listener bug" in caplog.text


# --- the actor system -------------------------------------------------------------------


class Crashy(Actor):
    async def receive(self, message: Any) -> Any:
        if message == "crash":
            raise RuntimeError("crashed on purpose")
        return message


@async_test
async def test_actor_restarts_and_dead_letters_are_counted_until_detached() -> None:
    metrics = RuntimeMetrics()
    actors = ActorSystem("demo")
    detach = metrics.observe_actor_system(actors)
    root = await actors.start(SupervisorSpec(children=[ChildSpec("crashy", Crashy)]))
    crashy = actors.lookup("crashy")
    for _ in range(2):
        with pytest.raises(RuntimeError):
            await crashy.ask("crash")
        await root.ask(WhichChildren())  # the supervisor has handled the exit
    assert value(metrics, "sagacrew_actor_restarts_total") == 2
    await actors.stop()
    crashy.tell("lost")
    assert value(metrics, "sagacrew_dead_letters_total", kind="actor_stopped") == 1
    detach()
    crashy.tell("lost again")
    assert value(metrics, "sagacrew_dead_letters_total", kind="actor_stopped") == 1
    assert value(metrics, "sagacrew_actor_restarts_total") == 2
    assert value(metrics, "sagacrew_supervision_failures_total") == 0


@async_test
async def test_a_failed_supervision_tree_is_counted_once() -> None:
    metrics = RuntimeMetrics()
    actors = ActorSystem("demo")
    metrics.observe_actor_system(actors)
    spec = SupervisorSpec(intensity=0, children=[ChildSpec("crashy", Crashy)])
    await actors.start(spec)
    with pytest.raises(RuntimeError):
        await actors.lookup("crashy").ask("crash")
    await actors.failed.wait()
    assert value(metrics, "sagacrew_supervision_failures_total") == 1
    assert value(metrics, "sagacrew_supervision_failures_total") == 1
    await actors.stop()


# --- exposition and registries ---------------------------------------------------------


def test_exposition_is_prometheus_text_with_every_metric_family() -> None:
    metrics = RuntimeMetrics()
    metrics.declare_sagas(APP.SAGAS)
    metrics.set_consistency_score("order_fulfilment", 0.9995)
    text = metrics.exposition().decode("utf-8")
    families = {family.name: family for family in text_string_to_metric_families(text)}
    assert set(families) >= {
        "sagacrew_sagas_started",
        "sagacrew_sagas_completed",
        "sagacrew_sagas_compensated",
        "sagacrew_sagas_compensation_failed",
        "sagacrew_sagas_stalled",
        "sagacrew_saga_step_latency_seconds",
        "sagacrew_step_retries",
        "sagacrew_compensations",
        "sagacrew_actor_restarts",
        "sagacrew_supervision_failures",
        "sagacrew_dead_letters",
        "sagacrew_consistency_score",
    }
    assert families["sagacrew_saga_step_latency_seconds"].type == "histogram"
    assert families["sagacrew_consistency_score"].type == "gauge"
    assert 'sagacrew_consistency_score{system="order_fulfilment"} 0.9995' in text
    bounds = {
        sample.labels["le"]
        for sample in families["sagacrew_saga_step_latency_seconds"].samples
        if sample.name.endswith("_bucket")
    }
    assert {"0.001", "0.2", "0.5", "5.0", "+Inf"} <= bounds
    assert len(bounds) == len(LATENCY_BUCKETS_S) + 1


def test_each_instance_has_its_own_registry_never_the_global_one() -> None:
    first, second = RuntimeMetrics(), RuntimeMetrics()
    first.on_saga_started(SAGA, "s-1")
    assert value(first, "sagacrew_sagas_started_total", saga=SAGA) == 1
    assert value(second, "sagacrew_sagas_started_total", saga=SAGA) is None
    assert REGISTRY.get_sample_value("sagacrew_sagas_started_total", {"saga": SAGA}) is None


def test_consistency_score_outside_zero_to_one_is_refused() -> None:
    metrics = RuntimeMetrics()
    with pytest.raises(ValueError, match=r"within \[0, 1\]"):
        metrics.set_consistency_score("order_fulfilment", 99.9)


def test_write_textfile_writes_the_exposition(tmp_path: Path) -> None:
    metrics = RuntimeMetrics()
    metrics.set_consistency_score("order_fulfilment", 1.0)
    target = tmp_path / "sagacrew.prom"
    metrics.write_textfile(target)
    assert 'sagacrew_consistency_score{system="order_fulfilment"} 1.0' in target.read_text()
