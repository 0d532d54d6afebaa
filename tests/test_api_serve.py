"""``serve``: a generated system and its status API in one process, stopped by a signal."""

from __future__ import annotations

import json
import signal
import socket
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from http_helpers import start_serve

from sagacrew.runtime import open_store
from sagacrew.runtime.api import ServeError
from sagacrew.runtime.api import serve
from sagacrew.runtime.store import SagaExecution
from sagacrew.runtime.store import SagaTransition

SYSTEM_DIR = Path(__file__).resolve().parent.parent / "generated" / "order_fulfilment"
TOKEN = "serve-test-token"


def call(url: str, method: str = "GET", body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Authorization", f"Bearer {TOKEN}")
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.loads(response.read())


@pytest.mark.slow
@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_serve_runs_sagas_and_stops_cleanly_on_a_signal(
    tmp_path: Path, stop: signal.Signals
) -> None:
    store_url = f"sqlite:///{tmp_path / 'state.db'}"
    startup: list[str] = []
    process, base = start_serve(SYSTEM_DIR, store_url, TOKEN, tmp_path, startup)
    try:
        status, health = call(f"{base}/healthz")
        assert (status, health["system"]) == (200, "order_fulfilment")
        order = {"order_id": "o-1", "consumer_id": "c-1", "ticket_id": "t-1", "total_cents": 100}
        status, started = call(f"{base}/api/sagas/create_order", "POST", order)
        assert status == 202
        status, drained = call(f"{base}/api/admin/drain?timeout_s=10", "POST")
        assert drained["drained"] is True
        process.send_signal(stop)
        _, rest = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, rest
    assert "shutting down" in rest
    # Full collections skip what startup made, once the system has started.
    assert "startup heap settled" in "".join(startup)
    with open_store(store_url) as store:
        saga = store.get_saga(started["saga_id"])
        assert saga is not None and saga.state == "completed"


def test_serve_on_a_taken_port_raises_serve_error_saying_what_to_do(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        with pytest.raises(ServeError, match=f"cannot listen on 127.0.0.1:{port}.*--port"):
            serve(SYSTEM_DIR, port=port, store_url=f"sqlite:///{tmp_path / 'state.db'}")


@pytest.mark.slow
def test_serve_logs_the_sagas_it_resumed_from_the_store(tmp_path: Path) -> None:
    store_url = f"sqlite:///{tmp_path / 'state.db'}"
    order = {"order_id": "o-1", "consumer_id": "c-1", "ticket_id": "t-1", "total_cents": 100}
    now = time.time()
    with open_store(store_url) as store:  # a saga left in flight by a process that died
        left = SagaExecution(
            "s-left", "create_order", "running", 0, 6, 0, 3, order, "c-left", "c-left",
            now, now, now + 30,
        )  # fmt: skip
        store.apply_saga_transition(SagaTransition(create=left))
    startup: list[str] = []
    process, base = start_serve(SYSTEM_DIR, store_url, TOKEN, tmp_path, startup)
    try:
        _, drained = call(f"{base}/api/admin/drain?timeout_s=10", "POST")
        assert drained["drained"] is True
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert "resumed 1 sagas left in flight" in "".join(startup)
    with open_store(store_url) as store:
        saga = store.get_saga("s-left")
        assert saga is not None and saga.state == "completed"
