"""Durable alerts as an operator meets them: ``GET /api/alerts`` (operator token),
``sagacrew alerts DIR [--pending]``, and ``sagacrew serve --alert-webhook`` delivering an
alert left undelivered by an earlier process."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import cli_helpers
import pytest
from cli_helpers import MAIN
from fastapi.testclient import TestClient

from sagacrew.agents.generated import open_generated
from sagacrew.runtime import SagaState
from sagacrew.runtime import SagaSystem
from sagacrew.runtime import ScriptedFault
from sagacrew.runtime import ScriptedFaults
from sagacrew.runtime.alerts import AlertRecord
from sagacrew.runtime.api import ServeError
from sagacrew.runtime.api import create_app
from sagacrew.runtime.api import serve
from sagacrew.runtime.store import open_store

ROOT = Path(__file__).resolve().parent.parent
SYSTEM_DIR = ROOT / "generated" / "order_fulfilment"
GENERATED = open_generated(SYSTEM_DIR)
TOKEN = "alerts-operator-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ORDER = {"order_id": "o-1", "consumer_id": "c-1", "ticket_id": "t-1", "total_cents": 100}
READY = re.compile(r"serving order_fulfilment on (http://127\.0\.0\.1:\d+)/")


def alert(kind: str, at: float, **fields: Any) -> AlertRecord:
    values: dict[str, Any] = {
        "saga_id": "saga-1",
        "saga_name": "create_order",
        "step_name": "create_ticket",
        "error": f"{kind}: redrive it",
        "correlation_id": "corr-1",
        **fields,
    }
    return AlertRecord(kind=kind, raised_at=at, **values)


# --- GET /api/alerts -------------------------------------------------------------------------


@dataclass
class Served:
    client: TestClient
    system: SagaSystem


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """The API over a system whose one saga parked a compensation, so it raised a
    ``compensation_failed`` alert (the system has no sink: the alert stays pending)."""
    faults = ScriptedFaults(
        [
            ScriptedFault("create_order", "authorize_card", retriable=False),
            ScriptedFault(
                "create_order", "create_ticket", phase="compensation", retriable=True, times=3
            ),
        ]
    )
    system = GENERATED.package.build_system(f"sqlite:///{tmp_path / 'state.db'}", faults=faults)
    app = create_app(
        system,
        blueprint=GENERATED.blueprint.model_dump(mode="json"),
        flowcharts_dir=None,
        operator_token=TOKEN,
    )
    try:
        with TestClient(app) as client:
            assert client.portal is not None
            result = client.portal.call(system.run_saga, "create_order", ORDER)
            assert result.state is SagaState.COMPENSATION_FAILED
            yield Served(client, system)
    finally:
        system.store.close()


def test_get_alerts_lists_the_pending_alert_with_its_dead_letter(served: Served) -> None:
    client = served.client
    response = client.get("/api/alerts", headers=AUTH)
    assert response.status_code == 200, response.text
    [body] = response.json()["alerts"]
    [letter] = client.get("/api/dead-letters", headers=AUTH).json()["dead_letters"]
    assert (body["kind"], body["step_name"]) == ("compensation_failed", "create_ticket")
    assert body["dead_letter_id"] == letter["id"]
    assert body["delivered_at"] is None and body["delivery_attempts"] == 0
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", body["raised_at"])
    assert client.get("/api/alerts?delivered=false", headers=AUTH).json()["alerts"] == [body]
    assert client.get("/api/alerts?delivered=true", headers=AUTH).json()["alerts"] == []


def test_get_alerts_filters_by_delivery_and_limits_oldest_first(served: Served) -> None:
    client, store = served.client, served.system.store
    [first] = store.list_alerts()
    assert first.id is not None
    store.mark_alert_delivered(first.id, 1_700_000_000.0)
    store.record_alert(alert("stalled", first.raised_at + 1))
    delivered = client.get("/api/alerts?delivered=true", headers=AUTH).json()["alerts"]
    assert [(a["id"], a["delivered_at"]) for a in delivered] == [
        (first.id, "2023-11-14T22:13:20.000Z")
    ]
    pending = client.get("/api/alerts?delivered=false", headers=AUTH).json()["alerts"]
    assert [a["kind"] for a in pending] == ["stalled"]
    limited = client.get("/api/alerts?limit=1", headers=AUTH).json()["alerts"]
    assert [a["id"] for a in limited] == [first.id]


def test_get_alerts_needs_the_operator_token_and_valid_parameters(served: Served) -> None:
    client = served.client
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        refused = client.get("/api/alerts", headers=headers)
        assert refused.status_code == 401
        assert refused.json() == {
            "error": "operator token missing or wrong",
            "detail": refused.json()["detail"],
        }
    for query in ("limit=0", "limit=1001", "delivered=maybe"):
        invalid = client.get(f"/api/alerts?{query}", headers=AUTH)
        assert invalid.status_code == 422, query
        assert set(invalid.json()) == {"error", "detail"}


def test_get_alerts_is_documented_with_its_error_bodies(served: Served) -> None:
    spec = served.client.get("/api/openapi.json").json()
    operation = spec["paths"]["/api/alerts"]["get"]
    assert {"200", "401", "403", "422", "503"} <= set(operation["responses"])
    unauthorized = operation["responses"]["401"]["content"]["application/json"]["schema"]
    assert unauthorized["$ref"].endswith("/ErrorBody")


# --- sagacrew alerts -------------------------------------------------------------------------


def sagacrew(*args: str, exits: int = 0) -> subprocess.CompletedProcess[str]:
    """``sagacrew ARGS`` on a wide terminal; it must exit ``exits``."""
    return cli_helpers.sagacrew(*args, code=MAIN, env={"COLUMNS": "250"}, timeout=120, exits=exits)


@pytest.fixture
def system_dir(tmp_path: Path) -> Path:
    """A copy of order_fulfilment whose default store holds a delivered alert and a
    pending one (whose last delivery failed)."""
    target = cli_helpers.copy_of_generated("order_fulfilment", tmp_path)
    (target / ".sagacrew").mkdir()
    with open_store(f"sqlite://{target / '.sagacrew' / 'runtime.db'}") as store:
        delivered = store.record_alert(alert("stalled", 1_700_000_000.0, saga_id="saga-stalled"))
        store.mark_alert_delivered(delivered, 1_700_000_060.0)
        pending = store.record_alert(alert("compensation_failed", 1_700_000_100.0))
        store.note_alert_delivery_failed(pending, "webhook https://hooks.test: HTTP 502")
    return target


@pytest.mark.slow
def test_sagacrew_alerts_lists_every_alert_and_pending_only_the_undelivered(
    system_dir: Path,
) -> None:
    listed = sagacrew("alerts", str(system_dir))
    assert "2 alert(s)" in listed.stdout
    for text in ("stalled", "saga-stalled", "2023-11-14 22:14:20", "compensation_failed"):
        assert text in listed.stdout, text
    assert "pending" in listed.stdout and "HTTP 502" in listed.stdout

    pending = sagacrew("alerts", str(system_dir), "--pending")
    assert "1 pending alert(s)" in pending.stdout
    assert "compensation_failed" in pending.stdout and "saga-stalled" not in pending.stdout


@pytest.mark.slow
def test_sagacrew_alerts_reads_another_store_and_says_when_there_is_none(
    system_dir: Path, tmp_path: Path
) -> None:
    other = f"sqlite://{tmp_path / 'other.db'}"
    open_store(other).close()
    empty = sagacrew("alerts", str(system_dir), "--store", other, "--pending")
    assert f"no pending alerts in {other}" in empty.stdout
    shutil.rmtree(system_dir / ".sagacrew")
    missing = sagacrew("alerts", str(system_dir), exits=2)
    [line] = missing.stderr.strip().splitlines()
    assert "no store yet" in line and "--store URL" in line


# --- sagacrew serve --alert-webhook ----------------------------------------------------------


class Hook:
    """A local webhook: keeps each posted alert and sets ``posted``."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.posted = threading.Event()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                hook.bodies.append(json.loads(self.rfile.read(length)))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()
                hook.posted.set()

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alerts"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def free_port() -> str:
    """A port free right now (``sagacrew serve`` takes 1-65535, not 0)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return str(probe.getsockname()[1])


def test_serve_refuses_a_webhook_that_is_not_http_before_starting(tmp_path: Path) -> None:
    with pytest.raises(ServeError, match=r"--alert-webhook: .*is not an http\(s\) URL"):
        serve(SYSTEM_DIR, port=0, store_url=f"sqlite:///{tmp_path / 's.db'}", alert_webhook="x")


@pytest.mark.slow
def test_serve_posts_an_alert_left_undelivered_to_the_webhook_and_logs_it(
    tmp_path: Path,
) -> None:
    store_url = f"sqlite:///{tmp_path / 'state.db'}"
    with open_store(store_url) as store:
        alert_id = store.record_alert(alert("stalled", 1_700_000_000.0))
    hook = Hook()
    env = {**os.environ, "SAGACREW_ALERT_WEBHOOK": hook.url, "COLUMNS": "250"}
    args = ["serve", str(SYSTEM_DIR), "--port", free_port(), "--store", store_url]
    process = subprocess.Popen(
        [sys.executable, "-c", MAIN, *args],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        cwd=tmp_path,
        env=env,
    )
    seen: list[str] = []
    try:
        assert process.stderr is not None
        for line in process.stderr:  # waits for the ready line itself, no sleeping
            seen.append(line)
            if READY.search(line):
                break
        assert READY.search(seen[-1]), "".join(seen)
        assert hook.posted.wait(timeout=60), "the webhook got nothing"
        process.send_signal(signal.SIGTERM)
        _, rest = process.communicate(timeout=60)
        rest = "".join(seen) + rest
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        hook.close()
    assert process.returncode == 0, rest
    assert [body["id"] for body in hook.bodies] == [alert_id]
    assert hook.bodies[0]["kind"] == "stalled"
    with open_store(store_url) as store:
        [row] = store.list_alerts()
        assert row.delivered_at is not None
    assert f"ALERT stalled #{alert_id}" in rest, "the log sink is wired too"
