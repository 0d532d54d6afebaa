"""Alert sinks and delivery: the webhook posts JSON and fails on a bad answer, the log
sink writes one line, and a failing sink is retried with backoff (its failures noted in
the store) until it takes the alert, while a sink that took it is not sent it again."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from typing import Any

import pytest

from sagacrew.runtime.alerts import AlertDelivery
from sagacrew.runtime.alerts import AlertRecord
from sagacrew.runtime.alerts import CallbackSink
from sagacrew.runtime.alerts import LoggingSink
from sagacrew.runtime.alerts import WebhookSink
from sagacrew.runtime.alerts import alert_payload
from sagacrew.runtime.saga import Alert
from sagacrew.runtime.saga import RetryPolicy
from sagacrew.runtime.store import Store
from sagacrew.runtime.store import open_store

ALERT = AlertRecord(
    kind="compensation_failed",
    saga_id="s-1",
    saga_name="booking",
    step_name="reserve",
    error="compensation of step 'reserve' failed after 3 attempts: down",
    correlation_id="corr-1",
    raised_at=1_700_000_000.5,
    dead_letter_id=4,
    id=9,
)


class Hook:
    """A local HTTP server answering every POST with ``status``; keeps the bodies."""

    def __init__(self, status: int) -> None:
        self.status = status
        self.bodies: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                hook.bodies.append(json.loads(self.rfile.read(length)))
                hook.headers.append(dict(self.headers))
                self.send_response(hook.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/sagacrew?token=t0p"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook_ok() -> Iterator[Hook]:
    hook = Hook(204)
    yield hook
    hook.close()


@pytest.fixture
def hook_failing() -> Iterator[Hook]:
    hook = Hook(500)
    yield hook
    hook.close()


@pytest.fixture
def store() -> Iterator[Store]:
    opened = open_store("sqlite://:memory:")
    yield opened
    opened.close()


def test_the_webhook_posts_the_alert_as_json(hook_ok: Hook) -> None:
    sink = WebhookSink(hook_ok.url, headers={"Authorization": "Bearer abc"})
    asyncio.run(sink.send(ALERT))
    assert hook_ok.bodies == [alert_payload(ALERT)]
    assert hook_ok.bodies[0]["dead_letter_id"] == 4 and hook_ok.bodies[0]["id"] == 9
    assert hook_ok.headers[0]["Content-Type"] == "application/json"
    assert hook_ok.headers[0]["Authorization"] == "Bearer abc"


def test_a_webhook_answering_an_error_or_unreachable_did_not_take_the_alert(
    hook_failing: Hook,
) -> None:
    failing = WebhookSink(hook_failing.url)
    with pytest.raises(OSError, match=r"answered HTTP 500") as raised:
        asyncio.run(failing.send(ALERT))
    assert "t0p" not in str(raised.value) and "/hooks" not in failing.name, "no secrets in logs"
    hook_failing.close()
    with pytest.raises(OSError, match="could not be reached"):
        asyncio.run(WebhookSink(hook_failing.url, timeout_s=2.0).send(ALERT))


@pytest.mark.parametrize("url", ["ftp://example.com/x", "not a url", "https://"])
def test_a_webhook_url_that_is_not_http_is_refused_saying_what_to_pass(url: str) -> None:
    with pytest.raises(ValueError, match="is not an http\\(s\\) URL; pass one like https://"):
        WebhookSink(url)


def test_the_log_sink_writes_one_error_line_naming_the_saga_and_the_fix(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, logger="sagacrew.runtime.alerts"):
        asyncio.run(LoggingSink().send(ALERT))
    [line] = caplog.records
    assert line.levelno == logging.ERROR
    message = line.getMessage()
    assert message.startswith("ALERT compensation_failed #9: saga 's-1' (booking) step 'reserve'")
    assert "failed after 3 attempts" in message


def test_the_callback_sink_hands_on_alert_the_alert() -> None:
    heard: list[Alert] = []
    asyncio.run(CallbackSink(heard.append).send(ALERT))
    assert heard == [
        Alert(
            "compensation_failed",
            "s-1",
            "booking",
            "reserve",
            ALERT.error,
            "corr-1",
            ALERT.raised_at,
            dead_letter_id=4,
        )
    ]


class Flaky:
    """Refuses its first ``failures`` alerts; notes the stored row at each call."""

    name = "flaky"

    def __init__(self, store: Store, failures: int) -> None:
        self.store = store
        self.failures = failures
        self.rows: list[AlertRecord] = []

    async def send(self, alert: AlertRecord) -> None:
        self.rows.extend(self.store.list_alerts())
        if len(self.rows) <= self.failures:
            raise ConnectionError(f"pager down (call {len(self.rows)})")


class Recording:
    name = "recording"

    def __init__(self) -> None:
        self.seen: list[int | None] = []

    async def send(self, alert: AlertRecord) -> None:
        self.seen.append(alert.id)


def test_a_failing_sink_is_retried_with_backoff_until_it_takes_the_alert(store: Store) -> None:
    flaky, recording, sleeps = Flaky(store, failures=2), Recording(), list[float]()

    async def sleep(delay_s: float) -> None:
        sleeps.append(delay_s)

    retry = RetryPolicy(initial_backoff_s=1.0, backoff_multiplier=2.0, jitter=0.0)
    delivery = AlertDelivery(
        store, [recording, flaky], clock=lambda: 50.0, sleep=sleep, retry=retry
    )

    async def scenario() -> AlertRecord:
        recorded = await delivery.raise_alert(ALERT)
        await asyncio.wait_for(delivery.settle(), timeout=60)
        return recorded

    recorded = asyncio.run(scenario())
    assert recording.seen == [recorded.id], "a sink that took the alert is not sent it again"
    assert sleeps == [1.0, 2.0]
    assert [(row.delivery_attempts, row.last_delivery_error) for row in flaky.rows] == [
        (0, None),
        (1, "flaky: ConnectionError: pager down (call 1)"),
        (2, "flaky: ConnectionError: pager down (call 2)"),
    ]
    [row] = store.list_alerts(delivered=True)
    assert (row.id, row.delivered_at, row.delivery_attempts) == (recorded.id, 50.0, 3)


def test_an_alert_without_id_cannot_be_delivered_before_it_is_recorded(store: Store) -> None:
    delivery = AlertDelivery(store, [Recording()])
    without_id = AlertRecord("stalled", "s", "n", "x", "e", "c", 1.0)
    with pytest.raises(ValueError, match="has no id; record it first"):
        delivery.deliver_soon(without_id)


def test_close_stops_retrying_and_leaves_the_alert_undelivered(store: Store) -> None:
    flaky = Flaky(store, failures=10**6)
    retried = asyncio.Event()

    async def sleep(delay_s: float) -> None:
        retried.set()
        await asyncio.Event().wait()  # a backoff that outlasts the test

    delivery = AlertDelivery(store, [flaky], sleep=sleep)

    async def scenario() -> None:
        await delivery.raise_alert(ALERT)
        await asyncio.wait_for(retried.wait(), timeout=60)
        await delivery.close()
        assert delivery.in_flight == 0
        delivery.deliver_soon(store.list_alerts()[0])  # closed: nothing starts
        assert delivery.in_flight == 0

    asyncio.run(scenario())
    [row] = store.list_alerts(delivered=False)
    assert row.delivery_attempts == 1
