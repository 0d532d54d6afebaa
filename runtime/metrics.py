"""Prometheus metrics of a running saga system, on a registry of its own.

:class:`RuntimeMetrics` is a :class:`~sagacrew.runtime.saga.SagaListener` (pass it to
``SagaOrchestrator(listeners=...)``, or ``SagaSystem(metrics=...)`` which does all the
wiring) and watches an :class:`~sagacrew.runtime.actors.ActorSystem` for restarts and
dead letters. Each instance owns its ``CollectorRegistry`` (never the process-wide
default), so several systems, and tests, coexist in one process.

Metrics (counters get Prometheus' ``_total`` suffix):

- ``sagacrew_sagas_started_total{saga}``: new sagas persisted;
- ``sagacrew_sagas_completed_total{saga}``, ``sagacrew_sagas_compensated_total{saga}``,
  ``sagacrew_sagas_compensation_failed_total{saga}``, ``sagacrew_sagas_stalled_total{saga}``:
  sagas reaching each terminal state (a redriven saga counts a second time);
- ``sagacrew_saga_step_latency_seconds{saga,step}``: histogram of forward steps that
  succeeded, from the attempt's start to its success (waiting for a completion event
  included), the figure the verdict's p95/p99 gates measure;
- ``sagacrew_step_retries_total{saga,step}``: retries, forward and compensation;
- ``sagacrew_compensations_total{saga,step}``: compensations that succeeded;
- ``sagacrew_actor_restarts_total``: actor restarts (``ActorSystem.restarts``);
- ``sagacrew_supervision_failures_total``: supervision trees that failed (a top-level
  supervisor exceeded its restart intensity, or a child escalated to it);
- ``sagacrew_dead_letters_total{kind}``: ``compensation`` (a compensation parked after
  its retries) and ``actor_stopped`` / ``actor_cancelled`` / ``actor_unhandled`` (actor
  messages that could not be delivered or handled, by the dead letter's reason);
- ``sagacrew_consistency_score{system}``: the last consistency score (0..1), set by the
  validator with :meth:`RuntimeMetrics.set_consistency_score`, or read from the store's
  newest recorded validation (``verify --judge-store``, ``verify``) when it is watched.

The counters above are this process's. With :meth:`RuntimeMetrics.watch_store` (what
``serve`` does) each scrape also reads the store, shared by every process of the system:

- ``sagacrew_store_sagas{saga,state}``: sagas in the store by type and state;
- ``sagacrew_store_dead_letters_parked``: compensations parked in the dead-letter queue;
- ``sagacrew_store_up``: 1 when the store answered this scrape, 0 when it did not (the
  other store figures are then left out).

Label sets of declared sagas (:meth:`RuntimeMetrics.declare_sagas`) and the dead-letter
kinds are created at 0, so a first failure shows as an increase to ``increase()``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    write_to_textfile,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from sagacrew.runtime.actors import ActorSystem, DeadLetter
from sagacrew.runtime.saga import SagaDefinition, SagaListener, SagaState
from sagacrew.runtime.store import Store, StoreError

LATENCY_BUCKETS_S: tuple[float, ...] = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 2.5, 5.0,
)  # fmt: skip
"""Step latency buckets, 1 ms to 5 s; 0.2 s and 0.5 s are bounds, so the default p95 and
p99 gates (200 ms, 500 ms) fall on a bucket edge and ``histogram_quantile`` is exact there."""

CONTENT_TYPE = CONTENT_TYPE_LATEST
"""The ``Content-Type`` of :meth:`RuntimeMetrics.exposition` (Prometheus text format)."""

DEAD_LETTER_KINDS: tuple[str, ...] = (
    "compensation",
    "actor_stopped",
    "actor_cancelled",
    "actor_unhandled",
)
"""Values of the ``kind`` label of ``sagacrew_dead_letters_total``."""

_TERMINAL_COUNTERS = {
    SagaState.COMPLETED: "completed",
    SagaState.COMPENSATED: "compensated",
    SagaState.COMPENSATION_FAILED: "compensation_failed",
    SagaState.STALLED: "stalled",
}


@dataclass
class _Watched:
    actors: ActorSystem
    restarts_seen: int = 0
    failure_seen: bool = False


class _ActorSystemCollector(Collector):
    """Exports restarts and supervision failures of the watched actor systems.

    ``ActorSystem.restarts`` is a plain count; each scrape adds what it grew by since the
    last one, so the exported counter only goes up, across systems started and stopped.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._watched: dict[int, _Watched] = {}
        self._restarts = 0
        self._failures = 0

    def watch(self, actors: ActorSystem) -> None:
        with self._lock:
            self._watched.setdefault(id(actors), _Watched(actors, actors.restarts))

    def unwatch(self, actors: ActorSystem) -> None:
        with self._lock:
            self._sync()
            self._watched.pop(id(actors), None)

    def totals(self) -> tuple[int, int]:
        """Restarts and supervision failures so far."""
        with self._lock:
            self._sync()
            return self._restarts, self._failures

    def _sync(self) -> None:
        for watched in self._watched.values():
            restarts = watched.actors.restarts
            self._restarts += max(0, restarts - watched.restarts_seen)
            watched.restarts_seen = restarts
            if watched.actors.failed.is_set() and not watched.failure_seen:
                watched.failure_seen = True
                self._failures += 1

    def collect(self) -> Iterable[Metric]:
        restarts, failures = self.totals()
        yield CounterMetricFamily(
            "sagacrew_actor_restarts",
            "Actor restarts by their supervisors (one per child instance restarted).",
            value=restarts,
        )
        yield CounterMetricFamily(
            "sagacrew_supervision_failures",
            "Supervision trees that failed: a top-level supervisor exceeded its restart "
            "intensity or a child escalated to it.",
            value=failures,
        )


class _StoreCollector(Collector):
    """Store-wide figures, read at each scrape (see the module docstring)."""

    def __init__(self, store: Store, on_score: Callable[[float], None], system: str) -> None:
        self._store = store
        self._on_score = on_score
        self._system = system
        self.profiles: tuple[str, ...] = ("dev", "prod")

    def describe(self) -> Iterable[Metric]:
        """Nothing: registering must not read the store (it may be down)."""
        return []

    def collect(self) -> Iterable[Metric]:
        up = GaugeMetricFamily("sagacrew_store_up", "1 when the store answered this scrape.")
        try:
            counts = self._store.saga_counts()
            parked = self._store.parked_compensations()
            history = [
                entry
                for profile in self.profiles
                for entry in self._store.consistency_history(self._system, profile)
            ]
        except StoreError:
            up.add_metric([], 0.0)
            yield up
            return
        up.add_metric([], 1.0)
        yield up
        sagas = GaugeMetricFamily(
            "sagacrew_store_sagas",
            "Sagas in the store (every process) by type and state.",
            labels=["saga", "state"],
        )
        for name in sorted({name for name, _ in counts}):
            for state in SagaState:
                sagas.add_metric([name, state.value], float(counts.get((name, state.value), 0)))
        yield sagas
        yield GaugeMetricFamily(
            "sagacrew_store_dead_letters_parked",
            "Compensations parked in the store's dead-letter queue.",
            value=float(parked),
        )
        if history:
            self._on_score(max(history)[1])


class RuntimeMetrics(SagaListener):
    """The Prometheus metrics of one saga system (see the module docstring for the list).

    ``latency_buckets_s`` (default :data:`LATENCY_BUCKETS_S`) are the step latency
    histogram's upper bounds, in seconds. Counters are safe to update from the event loop
    while another thread scrapes.
    """

    def __init__(self, *, latency_buckets_s: Sequence[float] = LATENCY_BUCKETS_S) -> None:
        self.registry = CollectorRegistry()
        registry = self.registry
        self._terminal = {
            state: Counter(
                f"sagacrew_sagas_{name}",
                f"Sagas that reached the terminal state {name}.",
                ["saga"],
                registry=registry,
            )
            for state, name in _TERMINAL_COUNTERS.items()
        }
        self._started = Counter(
            "sagacrew_sagas_started", "Sagas started (persisted).", ["saga"], registry=registry
        )
        self._latency = Histogram(
            "sagacrew_saga_step_latency_seconds",
            "Latency of forward saga steps that succeeded, from attempt start to success.",
            ["saga", "step"],
            buckets=tuple(latency_buckets_s),
            registry=registry,
        )
        self._retries = Counter(
            "sagacrew_step_retries",
            "Retries of saga steps after a failed attempt (forward and compensation).",
            ["saga", "step"],
            registry=registry,
        )
        self._compensations = Counter(
            "sagacrew_compensations",
            "Compensations of saga steps that succeeded.",
            ["saga", "step"],
            registry=registry,
        )
        self._dead_letters = Counter(
            "sagacrew_dead_letters",
            "Dead letters: parked compensations and undeliverable actor messages.",
            ["kind"],
            registry=registry,
        )
        self._consistency = Gauge(
            "sagacrew_consistency_score",
            "Consistency score (0..1) of the last validation of the system.",
            ["system"],
            registry=registry,
        )
        for kind in DEAD_LETTER_KINDS:
            self._dead_letters.labels(kind=kind)
        self._actor_systems = _ActorSystemCollector()
        registry.register(self._actor_systems)
        self._store: _StoreCollector | None = None

    # --- wiring -------------------------------------------------------------------------

    def declare_sagas(self, definitions: Iterable[SagaDefinition]) -> None:
        """Create every label set of these sagas at 0 (call before running them).

        Without this a series appears only at its first increment, which ``increase()``
        cannot see, and success ratios lack a term until every outcome happened once.
        """
        for definition in definitions:
            saga = definition.name
            self._started.labels(saga=saga)
            for counter in self._terminal.values():
                counter.labels(saga=saga)
            for step in definition.steps:
                self._latency.labels(saga=saga, step=step.name)
                self._retries.labels(saga=saga, step=step.name)
                if step.compensation is not None:
                    self._compensations.labels(saga=saga, step=step.name)

    def observe_actor_system(self, actors: ActorSystem) -> Callable[[], None]:
        """Count ``actors``' restarts, supervision failure and dead letters from now on.

        Returns a function that stops watching (after counting what happened so far);
        call it once the actor system is stopped.
        """
        self._actor_systems.watch(actors)
        unsubscribe = actors.dead_letters.subscribe(self._on_actor_dead_letter)

        def detach() -> None:
            unsubscribe()
            self._actor_systems.unwatch(actors)

        return detach

    def watch_store(self, store: Store, system: str, profiles: Iterable[str] = ()) -> None:
        """Report ``store``'s figures at every scrape: sagas by type and state, parked
        compensations, and the newest consistency score recorded for ``system`` under
        any of ``profiles`` (default ``dev`` and ``prod``). Watching twice is a no-op."""
        if self._store is not None:
            return
        self._store = _StoreCollector(
            store, lambda score: self.set_consistency_score(system, score), system
        )
        if profiles:
            self._store.profiles = tuple(profiles)
        self.registry.register(self._store)

    def set_consistency_score(self, system: str, score: float) -> None:
        """Record the consistency score (0..1) a validation of ``system`` measured."""
        if not 0.0 <= score <= 1.0:
            raise ValueError(f"consistency score {score!r} of {system!r} is not within [0, 1]")
        self._consistency.labels(system=system).set(score)

    # --- reading ------------------------------------------------------------------------

    def exposition(self) -> bytes:
        """Every metric in the Prometheus text format (serve it as ``/metrics`` with the
        ``Content-Type`` :data:`CONTENT_TYPE`)."""
        if self._store is not None:  # reads the store, and so sets the consistency score
            list(self._store.collect())
        return generate_latest(self.registry)

    def write_textfile(self, path: Path) -> None:
        """Write :meth:`exposition` atomically to ``path`` (for node_exporter's textfile
        collector, e.g. from a batch validation run)."""
        write_to_textfile(str(path), self.registry)

    def sample(self, name: str, labels: Mapping[str, str] | None = None) -> float | None:
        """One sample's current value (full sample name, e.g. ``..._total`` or
        ``..._count``), ``None`` when there is no such sample."""
        return self.registry.get_sample_value(name, dict(labels or {}))

    # --- SagaListener -------------------------------------------------------------------

    def on_saga_started(self, saga_name: str, saga_id: str) -> None:
        self._started.labels(saga=saga_name).inc()

    def on_saga_finished(self, saga_name: str, saga_id: str, state: SagaState) -> None:
        counter = self._terminal.get(state)
        if counter is not None:
            counter.labels(saga=saga_name).inc()

    def on_step_finished(self, saga_name: str, step_name: str, latency_s: float, ok: bool) -> None:
        if ok:
            self._latency.labels(saga=saga_name, step=step_name).observe(latency_s)

    def on_retry(self, saga_name: str, step_name: str, phase: str) -> None:
        self._retries.labels(saga=saga_name, step=step_name).inc()

    def on_compensation(self, saga_name: str, step_name: str) -> None:
        self._compensations.labels(saga=saga_name, step=step_name).inc()

    def on_dead_letter(self, saga_name: str, step_name: str, dead_letter_id: int | None) -> None:
        self._dead_letters.labels(kind="compensation").inc()

    def _on_actor_dead_letter(self, letter: DeadLetter) -> None:
        self._dead_letters.labels(kind=f"actor_{letter.reason}").inc()
