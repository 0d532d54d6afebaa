"""``/metrics`` under ``serve`` reports the store's totals (every process's sagas), not only
the counters of the serving process, and the consistency score last recorded."""

from __future__ import annotations

import asyncio
import signal
import urllib.request
from pathlib import Path

import pytest
from http_helpers import start_serve
from order_example import APP
from order_example import SYSTEM_DIR
from order_example import run_orders

from sagacrew.runtime import ScriptedFaults
from sagacrew.runtime import open_store
from sagacrew.runtime.metrics import RuntimeMetrics
from sagacrew.runtime.store import StoreError

TOKEN = "metrics-test-token"


def run_elsewhere(store_url: str) -> None:
    """Three sagas run by another process than the server: two complete, one compensates;
    then a validation of the system is recorded (as ``verify --judge-store`` does)."""
    faults = ScriptedFaults()
    system = APP.build_system(store_url, faults=faults)

    asyncio.run(run_orders(system, faults, range(3), refused=2))
    for at, score in ((10.0, 0.5), (20.0, 0.97)):
        system.store.record_validation(
            system="order_fulfilment",
            profile="dev",
            validated_at=at,
            sagas_total=3,
            success_rate=2 / 3,
            step_latency_p95_ms=1.0,
            step_latency_p99_ms=1.0,
            consistency_score=score,
            passed=0,
            report="{}",
        )
    system.store.close()


def sample(text: str, name: str) -> float:
    (line,) = [line for line in text.splitlines() if line.startswith(name + " ")]
    return float(line.rsplit(" ", 1)[1])


@pytest.mark.slow
def test_metrics_under_serve_report_the_stores_sagas_dead_letters_and_last_score(
    tmp_path: Path,
) -> None:
    store_url = f"sqlite:///{tmp_path / 'state.db'}"
    run_elsewhere(store_url)
    process, base = start_serve(SYSTEM_DIR, store_url, TOKEN, tmp_path)
    try:
        with urllib.request.urlopen(f"{base}/metrics", timeout=10) as response:
            text = response.read().decode()
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)
    assert sample(text, 'sagacrew_store_sagas{saga="create_order",state="completed"}') == 2
    assert sample(text, 'sagacrew_store_sagas{saga="create_order",state="compensated"}') == 1
    assert sample(text, 'sagacrew_store_sagas{saga="create_order",state="stalled"}') == 0
    assert sample(text, "sagacrew_store_dead_letters_parked") == 0
    assert sample(text, "sagacrew_store_up") == 1
    # the newest validation, not the worst or the first
    assert sample(text, 'sagacrew_consistency_score{system="order_fulfilment"}') == 0.97
    # this process ran nothing itself
    assert 'sagacrew_sagas_completed_total{saga="create_order"} 0.0' in text


class DownStore:
    """A store whose every read fails as during an outage."""

    def __getattr__(self, name: str) -> object:
        def fail(*args: object, **kwargs: object) -> object:
            raise StoreError("the database is unreachable", fix="wait")

        return fail


def test_a_store_outage_leaves_the_scrape_answering_with_store_up_zero() -> None:
    metrics = RuntimeMetrics()
    metrics.watch_store(DownStore(), "order_fulfilment")  # type: ignore[arg-type]
    text = metrics.exposition().decode()
    assert sample(text, "sagacrew_store_up") == 0
    assert "sagacrew_store_sagas" not in text


def test_watching_the_store_twice_registers_its_figures_once(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'state.db'}")
    metrics = RuntimeMetrics()
    metrics.watch_store(store, "order_fulfilment")
    metrics.watch_store(store, "order_fulfilment")
    text = metrics.exposition().decode()
    assert text.count("# TYPE sagacrew_store_up gauge") == 1
    assert 'sagacrew_consistency_score{system="order_fulfilment"}' not in text
    store.close()
