"""``/metrics`` of the workers, per worker and in total, read from the store's registry
(``saga_workers``) at each scrape by the process in front of them (``serve --workers``).

Per worker (label ``worker``): ``sagacrew_worker_up`` (1 while it runs and was heard from
within its lease), ``sagacrew_worker_driving`` (sagas it drives),
``sagacrew_worker_claimed``, ``sagacrew_worker_leases_lost`` and
``sagacrew_worker_writes_refused`` (since it started). In total: ``sagacrew_workers_live``
and ``sagacrew_workers_driving`` over the live workers, and the three counts summed over
every worker the store remembers.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from sagacrew.runtime.store import Store, StoreError

__all__ = ["WorkerCollector"]

_COUNTS = (
    ("claimed", "Sagas the worker claimed since it started."),
    ("leases_lost", "Leases the worker found taken by another worker at a heartbeat."),
    ("writes_refused", "Transitions of the worker refused by the fencing token."),
)


class WorkerCollector(Collector):
    """The workers' figures from ``store`` (nothing when the store does not answer: the
    store collector's ``sagacrew_store_up`` says so)."""

    def __init__(self, store: Store, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock

    def describe(self) -> Iterable[Metric]:
        """Nothing: registering must not read the store (it may be down)."""
        return []

    def collect(self) -> Iterable[Metric]:
        try:
            workers = self._store.workers()
        except StoreError:
            return
        now = self._clock()
        up = GaugeMetricFamily("sagacrew_worker_up", "1 while the worker runs.", labels=["worker"])
        driving = GaugeMetricFamily(
            "sagacrew_worker_driving", "Sagas the worker drives.", labels=["worker"]
        )
        counts = {
            name: GaugeMetricFamily(f"sagacrew_worker_{name}", text, labels=["worker"])
            for name, text in _COUNTS
        }
        for worker in workers:
            label = [worker.worker_id]
            up.add_metric(label, 1.0 if worker.live(now) else 0.0)
            driving.add_metric(label, float(worker.driving(now)))
            for name, family in counts.items():
                family.add_metric(label, float(getattr(worker.counts, name)))
        yield from (up, driving, *counts.values())
        yield GaugeMetricFamily(
            "sagacrew_workers_live", "Workers running.", value=sum(w.live(now) for w in workers)
        )
        yield GaugeMetricFamily(
            "sagacrew_workers_driving",
            "Sagas the live workers drive, in total.",
            value=sum(w.driving(now) for w in workers),
        )
        for name, text in _COUNTS:
            yield GaugeMetricFamily(
                f"sagacrew_workers_{name}",
                f"{text[:-1]}, summed over every worker.",
                value=sum(getattr(w.counts, name) for w in workers),
            )
