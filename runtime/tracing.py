"""Tracing: OpenTelemetry spans for sagas and their steps, off unless an OTLP endpoint is set.

:class:`SagaTracer` is a saga listener: a span per saga (from its start to its end state)
and, inside it, a span per step attempt of either phase, made from the step-log row once
the attempt ended (its own start and end times, so a span never reports what a crash
could undo). Attributes: the saga's id, name and correlation id, the step, phase, attempt,
idempotency key and causation id; a failed attempt's span has status ERROR with its error.

:func:`tracer_from_env` returns one only when ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) is set and ``OTEL_SDK_DISABLED`` is not ``true``,
exporting over OTLP/HTTP in batches;
otherwise nothing listens and the saga hot path does no tracing work at all. The
OpenTelemetry packages are imported only then (``pip install 'sagacrew-runtime[otel]'``).
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any

from sagacrew.runtime.saga import SagaListener, SagaState
from sagacrew.runtime.store import StepLogEntry

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import Span

__all__ = ["SagaTracer", "TracingError", "tracer_from_env"]

logger = logging.getLogger("sagacrew.runtime")

ENDPOINTS = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
"""The environment variables that turn tracing on (the OpenTelemetry SDK's own)."""


class TracingError(Exception):
    """Tracing is asked for but cannot run: one line, what is missing and the fix."""


def _ns(seconds: float) -> int:
    return int(seconds * 1_000_000_000)


class SagaTracer(SagaListener):
    """Spans for the sagas of one process, exported by ``provider``."""

    def __init__(self, provider: TracerProvider) -> None:
        self.provider = provider
        self._tracer = provider.get_tracer("sagacrew")
        self._sagas: dict[str, Span] = {}

    def on_saga_started(self, saga_name: str, saga_id: str) -> None:
        attributes = {"sagacrew.saga.id": saga_id, "sagacrew.saga.name": saga_name}
        self._sagas[saga_id] = self._tracer.start_span(f"saga {saga_name}", attributes=attributes)

    def on_saga_finished(self, saga_name: str, saga_id: str, state: SagaState) -> None:
        span = self._sagas.pop(saga_id, None)
        if span is not None:
            span.set_attribute("sagacrew.saga.state", str(state))
            span.end()

    def on_step_logged(self, saga_name: str, entry: StepLogEntry) -> None:
        if entry.ended_at is None:
            return  # started or waiting: the span is made when the attempt ends
        from opentelemetry import trace
        from opentelemetry.trace import Status, StatusCode

        saga = self._sagas.get(entry.saga_id)
        context = trace.set_span_in_context(saga) if saga is not None else None
        attributes: dict[str, Any] = {
            "sagacrew.saga.id": entry.saga_id,
            "sagacrew.saga.name": saga_name,
            "sagacrew.correlation_id": entry.correlation_id,
            "sagacrew.causation_id": entry.causation_id,
            "sagacrew.step.name": entry.step_name,
            "sagacrew.step.phase": entry.phase,
            "sagacrew.step.attempt": entry.attempt,
            "sagacrew.step.status": entry.status,
            "sagacrew.idempotency_key": entry.idempotency_key,
        }
        if saga is None:
            attributes["sagacrew.saga.resumed"] = True
        span = self._tracer.start_span(
            f"{entry.phase} {entry.step_name}",
            context=context,
            start_time=_ns(entry.started_at),
            attributes=attributes,
        )
        if entry.status != "succeeded":
            span.set_status(Status(StatusCode.ERROR, entry.error or entry.status))
        span.end(end_time=_ns(entry.ended_at))

    def shutdown(self) -> None:
        """Export what is left (on stop)."""
        for span in self._sagas.values():
            span.end()
        self._sagas.clear()
        self.provider.shutdown()


def tracer_from_env(service_name: str) -> SagaTracer | None:
    """A tracer exporting over OTLP/HTTP when an endpoint is configured, else ``None``."""
    if not any(os.environ.get(name) for name in ENDPOINTS):
        return None
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None  # the OpenTelemetry switch for every SDK user in the process
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as missing:
        raise TracingError(
            f"{ENDPOINTS[1]} asks for tracing, but {missing.name} is not installed; "
            "pip install 'sagacrew-runtime[otel]', or unset it"
        ) from None
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    logger.info("tracing: spans of %s exported over OTLP", service_name)
    return SagaTracer(provider)
