"""The status API under hostile input and infrastructure faults.

Request bodies are limited and refused before they are read (the operator token is
checked first), saga inputs are limited, ids are checked the same way on SQLite and
PostgreSQL before the store is touched, and a store outage answers 503 with
``Retry-After`` while ``/livez`` stays 200 and ``/healthz`` (= ``/readyz``) says not ready.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from collections.abc import MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from http_helpers import example_app
from http_helpers import start_serve
from postgres_server import PostgresServer
from typer.testing import CliRunner

from sagacrew.agents.generated import open_generated
from sagacrew.runtime import SagaSystem
from sagacrew.runtime.store import StoreUnavailable

SYSTEM_DIR = Path(__file__).resolve().parent.parent / "generated" / "order_fulfilment"
GENERATED = open_generated(SYSTEM_DIR)
TOKEN = "limits-operator-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
HUNDRED_MB = 100 * 1024 * 1024
ORDER = {"order_id": "o-1", "consumer_id": "c-1", "ticket_id": "t-1", "total_cents": 100}


def build_app(
    system: SagaSystem,
    *,
    token: str | None = TOKEN,
    max_body_bytes: int = 1 << 20,
    max_input_bytes: int = 64 * 1024,
) -> FastAPI:
    return example_app(
        system, token, max_body_bytes=max_body_bytes, max_input_bytes=max_input_bytes
    )


@dataclass
class Served:
    client: TestClient
    system: SagaSystem
    app: FastAPI


@contextmanager
def serving(
    store_url: str, *, max_body_bytes: int = 1 << 20, max_input_bytes: int = 64 * 1024
) -> Iterator[Served]:
    system = GENERATED.package.build_system(store_url)
    app = build_app(system, max_body_bytes=max_body_bytes, max_input_bytes=max_input_bytes)
    try:
        with TestClient(app) as client:
            yield Served(client, system, app)
    finally:
        system.store.close()


@pytest.fixture
def served(sqlite_url: str) -> Iterator[Served]:
    with serving(sqlite_url) as running:
        yield running


@pytest.fixture
def served_on_each_store(store_url: str) -> Iterator[Served]:
    with serving(store_url) as running:
        yield running


# --- the ASGI layer: what is read of a body ---------------------------------------------


@dataclass
class Exchange:
    status: int
    headers: dict[str, str]
    body: Any
    pulled: int
    """How many body messages the app took from ``receive``."""


def exchange(
    served: Served,
    method: str,
    path: str,
    headers: dict[str, str],
    chunks: Iterator[bytes],
    *,
    app: FastAPI | None = None,
) -> Exchange:
    """One request straight to the ASGI app (on the client's loop), its body from
    ``chunks`` (an empty chunk ends it; running out is a disconnect)."""
    target = app or served.app
    pulled = 0
    messages: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        chunk = next(chunks, None)
        if chunk is None:
            return {"type": "http.disconnect"}
        pulled += 1
        return {"type": "http.request", "body": chunk, "more_body": chunk != b""}

    async def send(message: MutableMapping[str, Any]) -> None:
        messages.append(dict(message))

    async def call() -> None:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "root_path": "",
            "query_string": b"",
            "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
            "client": ("127.0.0.1", 50000),
            "server": ("testserver", 80),
            "state": {},
        }
        await target(scope, receive, send)

    portal = served.client.portal
    assert portal is not None
    portal.call(call)
    start = next(m for m in messages if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    raw = {k.decode(): v.decode() for k, v in start["headers"]}
    return Exchange(start["status"], raw, json.loads(body), pulled)


def hundred_mb(size: int = 16 * 1024) -> Iterator[bytes]:
    """100 MiB of body in ``size`` chunks, then the end of the body."""
    for _ in range(HUNDRED_MB // size):
        yield b"[" * size
    yield b""


def test_an_operator_route_refuses_a_100_mb_body_unread_without_a_valid_token_or_when_disabled(
    served: Served,
) -> None:
    declared = {"content-type": "application/json", "content-length": str(HUNDRED_MB)}
    for auth in ({}, {"authorization": "Bearer wrong"}):
        result = exchange(served, "POST", "/api/sagas/create_order", declared | auth, hundred_mb())
        assert (result.status, result.pulled) == (401, 0)
        assert result.body["error"] == "operator token missing or wrong"
        assert result.headers["www-authenticate"] == "Bearer"
        assert result.headers["connection"] == "close"
    disabled = build_app(served.system, token=None)
    result = exchange(served, "POST", "/api/admin/pause", declared, hundred_mb(), app=disabled)
    assert (result.status, result.pulled) == (403, 0)
    assert "no operator token is configured" in result.body["error"]
    assert served.system.orchestrator is not None and not served.system.orchestrator.paused


def test_a_declared_length_over_the_limit_is_413_naming_the_limit_without_reading(
    served: Served,
) -> None:
    declared = {"content-length": str(HUNDRED_MB), "authorization": AUTH["Authorization"]}
    for method, path in (("POST", "/api/sagas/create_order"), ("GET", "/api/sagas")):
        result = exchange(served, method, path, declared, hundred_mb())
        assert (result.status, result.pulled) == (413, 0)
        assert "limit of 1048576 bytes" in result.body["error"]
        assert "--max-body-bytes" in result.body["error"]
        assert result.body["detail"] == {"max_body_bytes": 1048576}
        assert result.headers["connection"] == "close"


def test_a_body_of_unknown_length_is_counted_and_refused_once_past_the_limit(
    sqlite_url: str,
) -> None:
    chunked = {"transfer-encoding": "chunked", "authorization": AUTH["Authorization"]}
    with serving(sqlite_url, max_body_bytes=100_000) as served:
        result = exchange(served, "POST", "/api/sagas/create_order", chunked, hundred_mb())
        assert result.status == 413
        assert "limit of 100000 bytes" in result.body["error"]
        assert result.pulled == 100_000 // (16 * 1024) + 1  # stopped past the limit
        assert served.client.get("/api/sagas").json()["sagas"] == []


def test_a_body_of_unknown_length_within_the_limit_reaches_the_route(served: Served) -> None:
    payload = json.dumps(ORDER).encode()
    parts = iter([payload[:10], payload[10:30], payload[30:], b""])
    chunked = {"transfer-encoding": "chunked", "content-type": "application/json"}
    chunked["authorization"] = AUTH["Authorization"]
    result = exchange(served, "POST", "/api/sagas/create_order", chunked, parts)
    assert result.status == 202, result.body
    assert result.body["saga_name"] == "create_order"


def test_a_content_length_that_is_not_a_number_is_400(served: Served) -> None:
    result = exchange(served, "GET", "/api/sagas", {"content-length": "lots"}, hundred_mb())
    assert (result.status, result.pulled) == (400, 0)
    assert "not a number of bytes" in result.body["error"]


# --- saga input -------------------------------------------------------------------------


def test_a_saga_input_over_the_input_limit_is_413_and_starts_nothing(served: Served) -> None:
    big = {**ORDER, "note": "x" * 70_000}  # under the 1 MiB body limit, over 64 KiB of input
    response = served.client.post("/api/sagas/create_order", json=big, headers=AUTH)
    assert response.status_code == 413
    assert "more than the limit of 65536" in response.json()["error"]
    assert response.json()["detail"]["max_input_bytes"] == 65536
    assert served.client.get("/api/sagas").json()["sagas"] == []


def test_the_input_limit_is_configurable(sqlite_url: str) -> None:
    with serving(sqlite_url, max_input_bytes=200) as served:
        small = served.client.post("/api/sagas/create_order", json=ORDER, headers=AUTH)
        assert small.status_code == 202, small.text
        large = served.client.post(
            "/api/sagas/create_order", json={**ORDER, "note": "y" * 200}, headers=AUTH
        )
        assert large.status_code == 413 and "limit of 200" in large.json()["error"]


def test_a_saga_input_with_nul_a_lone_surrogate_or_nested_too_deep_is_422(served: Served) -> None:
    nul = served.client.post(
        "/api/sagas/create_order", json={**ORDER, "order_id": "o\x00-1"}, headers=AUTH
    )
    assert nul.status_code == 422 and "NUL" in nul.json()["error"]
    lone = b'{"order_id": "o-\\ud800", "consumer_id": "c", "ticket_id": "t", "total_cents": 1}'
    surrogate = served.client.post(
        "/api/sagas/create_order",
        content=lone,
        headers={**AUTH, "Content-Type": "application/json"},
    )
    assert surrogate.status_code == 422 and "unpaired surrogate" in surrogate.json()["error"]
    deep: Any = "bottom"
    for _ in range(40):
        deep = [deep]
    nested = served.client.post(
        "/api/sagas/create_order", json={**ORDER, "deep": deep}, headers=AUTH
    )
    assert nested.status_code == 422 and "deeper than 32 levels" in nested.json()["error"]
    assert served.client.get("/api/sagas").json()["sagas"] == []


# --- ids: the same answer on both stores ------------------------------------------------

BAD_IDS = ["nul\x00id", "tab\tid", "del\x7fid", "c1\x85id", "x" * 201]


def test_bad_ids_are_422_on_every_route_of_both_stores(served_on_each_store: Served) -> None:
    client = served_on_each_store.client
    for bad in BAD_IDS:
        quoted = quote(bad, safe="")
        for path in (
            f"/api/sagas/{quoted}/status",
            f"/api/sagas/{quoted}/flowchart.svg",
            f"/sagas/{quoted}",
        ):
            response = client.get(path)
            assert response.status_code == 422, (bad, path, response.text)
            assert response.json()["error"].startswith("invalid request")
        assert client.get("/api/sagas", params={"saga_name": bad}).status_code == 422
        assert client.post(f"/api/sagas/{quoted}", json={}, headers=AUTH).status_code == 422
    for number in ("0", "-1", str(2**63), str(2**64), "1e3"):
        response = client.post(f"/api/dead-letters/{number}/redrive", headers=AUTH)
        assert response.status_code == 422, (number, response.text)
    assert client.post(f"/api/dead-letters/{2**63 - 1}/redrive", headers=AUTH).status_code == 404
    longest = "x" * 200
    assert client.get(f"/api/sagas/{longest}/status").status_code == 404
    assert client.get("/api/sagas", params={"saga_name": "ünïcode ✓"}).json()["sagas"] == []


# --- store outage -----------------------------------------------------------------------


def test_a_store_outage_is_503_with_retry_after_and_not_ready_but_alive(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, store = served.client, served.system.store
    started = client.post("/api/sagas/create_order", json=ORDER, headers=AUTH).json()
    assert client.get("/healthz").status_code == 200

    def unreachable(*args: object, **kwargs: object) -> Any:
        raise StoreUnavailable("db-host-7 refused the connection", fix="wait", retry_after_s=2.5)

    for name in ("ping", "query", "saga_summaries", "saga_page", "get_saga", "list_dead_letters"):
        monkeypatch.setattr(store, name, unreachable)
    for path in ("/healthz", "/readyz", "/api/sagas", f"/api/sagas/{started['saga_id']}/status"):
        response = client.get(path)
        assert response.status_code == 503, (path, response.text)
        assert response.headers["retry-after"] == "3"
        body = response.json()
        assert body["error"] == "the saga store is unavailable right now; retry in 3 s"
        assert body["detail"]["retry_after_s"] == 3
        assert "db-host-7" not in response.text  # the cause stays in the server log
    assert client.get("/api/dead-letters", headers=AUTH).status_code == 503
    assert client.get("/livez").json() == {"status": "alive"}

    monkeypatch.undo()
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["store"] == "available"


@pytest.mark.postgres
def test_a_halted_postgres_server_is_503_then_ready_again_once_it_is_back(
    postgres_url: str, postgres_server: PostgresServer
) -> None:
    with serving(postgres_url) as served:
        client = served.client
        assert client.get("/healthz").json()["store"] == "available"
        with psycopg.connect(postgres_server.url, autocommit=True) as admin:
            admin.execute("CHECKPOINT")  # the test cluster commits asynchronously
        postgres_server.halt()
        try:
            for path in ("/healthz", "/api/sagas", "/healthz", "/api/sagas/s-1/status"):
                response = client.get(path)
                assert response.status_code == 503, (path, response.text)
                assert int(response.headers["retry-after"]) >= 1
            assert client.get("/livez").status_code == 200
        finally:
            postgres_server.restart()
        for _ in range(300):  # the store reconnects after its backoff (at most a few s)
            if client.get("/healthz").status_code == 200:
                break
            time.sleep(0.1)
        assert client.get("/healthz").status_code == 200
        assert client.get("/api/sagas").json()["sagas"] == []


# --- a real server: a 100 MB body does not stall the loop -------------------------------


@pytest.fixture
def server_port(tmp_path: Path) -> Iterator[int]:
    """``serve`` (default limits) in a subprocess; its port once it is ready."""
    process, base = start_serve(SYSTEM_DIR, f"sqlite:///{tmp_path}/s.db", TOKEN, tmp_path)
    try:
        yield int(base.rsplit(":", 1)[1])
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def request_head(length: int, *, token: bool) -> bytes:
    auth = f"Authorization: Bearer {TOKEN}\r\n" if token else ""
    return (
        "POST /api/sagas/create_order HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: application/json\r\n{auth}Content-Length: {length}\r\n\r\n"
    ).encode()


def answer_until_closed(sock: socket.socket) -> tuple[int, dict[str, str], Any]:
    """The response on ``sock``, read until the server closes the connection."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, json.loads(body)


def get(port: int, path: str) -> tuple[int, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as response:
        return response.status, json.loads(response.read())


@pytest.mark.slow
def test_a_served_100_mb_body_is_refused_unread_while_status_requests_are_answered(
    server_port: int,
) -> None:
    address = ("127.0.0.1", server_port)
    few_kb = b" " * 4096
    # A slow upload within the limits stays open (its body never completes) ...
    with socket.create_connection(address, timeout=30) as slow:
        slow.sendall(request_head(500_000, token=True) + few_kb)
        # ... while 100 MB bodies are refused after the first 4 KiB, and the server
        # closes those connections instead of reading the rest:
        for token, status in ((False, 401), (True, 413)):
            with socket.create_connection(address, timeout=30) as upload:
                upload.sendall(request_head(HUNDRED_MB, token=token) + few_kb)
                code, headers, body = answer_until_closed(upload)
            assert code == status, body
            assert headers["connection"] == "close"
            assert headers["x-content-type-options"] == "nosniff"
            assert body["error"]
        # ... and status requests are answered meanwhile.
        assert get(server_port, "/livez") == (200, {"status": "alive"})
        status, system = get(server_port, "/api/system")
        assert status == 200 and system["sagas"][0]["name"] == "create_order"
        assert get(server_port, "/healthz")[1]["store"] == "available"


def test_sagacrew_serve_takes_the_limits_from_options_or_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import sagacrew.runtime.api as api
    from sagacrew.crew.cli import app as cli

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(api, "serve", lambda *args, **kwargs: calls.append(kwargs))
    runner = CliRunner()
    done = runner.invoke(
        cli,
        ["serve", str(SYSTEM_DIR), "--max-body-bytes", "2048"],
        env={"SAGACREW_MAX_INPUT_BYTES": "512"},
    )
    assert done.exit_code == 0, done.output
    assert (calls[0]["max_body_bytes"], calls[0]["max_input_bytes"]) == (2048, 512)
    defaults = runner.invoke(cli, ["serve", str(SYSTEM_DIR)], env={})
    assert defaults.exit_code == 0, defaults.output
    assert (calls[1]["max_body_bytes"], calls[1]["max_input_bytes"]) == (1 << 20, 64 * 1024)
    refused = runner.invoke(cli, ["serve", str(SYSTEM_DIR), "--max-body-bytes", "0"])
    assert refused.exit_code == 2 and len(calls) == 2
