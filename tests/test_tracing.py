"""Tracing: a span per saga and, inside it, per step attempt, with the ids as attributes;
nothing at all when no OTLP endpoint is configured."""

from __future__ import annotations

import pytest
from async_helpers import run
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode
from saga_fakes import FakeClock
from saga_fakes import FakeService
from saga_fakes import ScriptedFaults
from saga_fakes import do
from saga_fakes import undo

from sagacrew.runtime.saga import RetryPolicy
from sagacrew.runtime.saga import SagaDefinition
from sagacrew.runtime.saga import SagaOrchestrator
from sagacrew.runtime.saga import SagaStep
from sagacrew.runtime.store import open_store
from sagacrew.runtime.tracing import ENDPOINTS
from sagacrew.runtime.tracing import SagaTracer
from sagacrew.runtime.tracing import tracer_from_env

RETRY = RetryPolicy(max_attempts=3, initial_backoff_s=0.001, jitter=0.0)
ORDER = SagaDefinition(
    "order",
    [
        SagaStep("reserve", do("reserve"), undo("reserve"), retry=RETRY),
        SagaStep("charge", do("charge"), pivot=True, retry=RETRY),
    ],
)


def test_a_saga_and_its_attempts_become_spans_with_their_ids(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OTEL_SDK_DISABLED", raising=False)  # the tests set it for crewAI
    run(spans_of_one_saga())


async def spans_of_one_saga() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    faults = ScriptedFaults()
    faults.plan[("reserve", "forward", 1)] = "transient"
    clock = FakeClock()
    orchestrator = SagaOrchestrator(
        open_store("sqlite://:memory:"),
        [ORDER],
        dispatch=FakeService().dispatch,
        faults=faults,
        clock=clock,
        sleep=clock.sleep,
        listeners=[SagaTracer(provider)],
    )
    result = await orchestrator.run("order", {}, correlation_id="corr-1")
    spans = {span.name: span for span in exporter.get_finished_spans()}
    failed = [s for s in exporter.get_finished_spans() if s.status.status_code is StatusCode.ERROR]
    assert sorted(spans) == ["forward charge", "forward reserve", "saga order"]
    saga = spans["saga order"]
    assert saga.attributes is not None
    assert saga.attributes["sagacrew.saga.id"] == result.saga_id
    assert saga.attributes["sagacrew.saga.state"] == "completed"
    assert [s.attributes["sagacrew.step.attempt"] for s in failed if s.attributes] == [1]
    charge = spans["forward charge"]
    assert charge.parent is not None and charge.parent.span_id == saga.context.span_id
    assert charge.attributes is not None
    assert charge.attributes["sagacrew.correlation_id"] == "corr-1"
    assert charge.attributes["sagacrew.causation_id"]
    assert charge.attributes["sagacrew.idempotency_key"] == f"{result.saga_id}:1:forward:1"
    await orchestrator.close()
    orchestrator.store.close()


def test_no_endpoint_or_a_disabled_sdk_means_no_tracer(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENDPOINTS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("OTEL_SDK_DISABLED", raising=False)
    assert tracer_from_env("order_fulfilment") is None
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
    tracer = tracer_from_env("order_fulfilment")
    assert isinstance(tracer, SagaTracer)
    tracer.shutdown()
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    assert tracer_from_env("order_fulfilment") is None
