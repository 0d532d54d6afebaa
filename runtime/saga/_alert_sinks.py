"""Where alerts go: an alert as a stored record and as JSON, the :class:`AlertSink`
protocol, and the bundled sinks (the ``on_alert`` callback, the log, a webhook)."""

from __future__ import annotations

import asyncio
import json
import logging
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any, Final, Protocol

from sagacrew.runtime.saga._types import Alert
from sagacrew.runtime.store import AlertRecord

ALERT_WEBHOOK_ENV: Final = "SAGACREW_ALERT_WEBHOOK"
"""The environment variable ``sagacrew serve`` reads the alert webhook URL from."""

WEBHOOK_TIMEOUT_S: Final = 5.0
"""Default seconds a webhook has to answer one alert."""

logger = logging.getLogger("sagacrew.runtime.alerts")


ALERT_SUBJECT: Final = (
    "kind",
    "saga_id",
    "saga_name",
    "step_name",
    "error",
    "correlation_id",
    "dead_letter_id",
    "stream_id",
)
"""The fields an :class:`Alert`, its ``alerts`` row and their JSON views share: what
happened and where, in the order the JSON views list them."""


def alert_subject(alert: Alert | AlertRecord) -> dict[str, Any]:
    """The :data:`ALERT_SUBJECT` fields of an alert or of its ``alerts`` row, by name."""
    return {name: getattr(alert, name) for name in ALERT_SUBJECT}


def alert_record(alert: Alert, *, stream_id: str | None = None) -> AlertRecord:
    """``alert`` as an undelivered ``alerts`` row (``stream_id``: the stream concerned)."""
    subject = alert_subject(alert)
    if stream_id is not None:
        subject["stream_id"] = stream_id
    return AlertRecord(**subject, raised_at=alert.at)


def as_alert(record: AlertRecord) -> Alert:
    """The :class:`Alert` an ``on_alert`` callback receives for a stored alert."""
    return Alert(**alert_subject(record), at=record.raised_at)


def alert_payload(record: AlertRecord) -> dict[str, Any]:
    """The alert as a JSON object (what the webhook posts): its id, what happened, where,
    and ``raised_at`` in seconds since the epoch."""
    return {"id": record.id, **alert_subject(record), "raised_at": record.raised_at}


class AlertSink(Protocol):
    """Takes alerts for an operator (a pager, a chat, a ticket queue).

    ``send`` returns once the sink took the alert and raises when it did not; the alert
    is then sent again later, so a sink may see an alert more than once (at-least-once:
    ``alert.id`` tells repeats apart). ``name`` names the sink in delivery errors.
    """

    @property
    def name(self) -> str:
        """The sink's name in logs and in ``last_delivery_error``."""
        ...

    async def send(self, alert: AlertRecord) -> None:
        """Hand ``alert`` over; raise when it was not taken."""
        ...


class CallbackSink:
    """Calls ``callback`` (the orchestrator's ``on_alert``) with the :class:`Alert`."""

    def __init__(self, callback: Callable[[Alert], None], name: str = "on_alert") -> None:
        self._callback = callback
        self._name = name

    @property
    def name(self) -> str:
        """``on_alert`` unless named otherwise."""
        return self._name

    async def send(self, alert: AlertRecord) -> None:
        """Call the callback; what it raises counts as not taken."""
        self._callback(as_alert(alert))


class LoggingSink:
    """Writes each alert as one log record (default: logger ``sagacrew.runtime.alerts``
    at ERROR), with the alert's fields as ``extra``."""

    def __init__(self, log: logging.Logger | None = None, level: int = logging.ERROR) -> None:
        self._logger = log if log is not None else logger
        self._level = level

    @property
    def name(self) -> str:
        """``log``."""
        return "log"

    async def send(self, alert: AlertRecord) -> None:
        """Log the alert: kind, saga, step and error on one line."""
        where = f"saga {alert.saga_id!r} ({alert.saga_name})" if alert.saga_id else "system"
        if alert.step_name:
            where += f" step {alert.step_name!r}"
        if alert.stream_id:
            where += f" stream {alert.stream_id!r}"
        self._logger.log(
            self._level,
            "ALERT %s #%s: %s: %s",
            alert.kind,
            alert.id,
            where,
            alert.error,
            extra={f"alert_{key}": value for key, value in alert_payload(alert).items()},
        )


class WebhookSink:
    """POSTs each alert as JSON (see :func:`alert_payload`) to ``url``.

    Any 2xx answer within ``timeout_s`` (default :data:`WEBHOOK_TIMEOUT_S`) means taken;
    another status, a timeout or a connection error means not taken (sent again later).
    The request runs in a worker thread (``asyncio.to_thread``), never on the event loop.
    ``headers`` are added to the request (e.g. ``Authorization``).
    """

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = WEBHOOK_TIMEOUT_S,
        headers: dict[str, str] | None = None,
    ) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                f"alert webhook URL {url!r} is not an http(s) URL; pass one like "
                "https://hooks.example.com/sagacrew"
            )
        if timeout_s <= 0:
            raise ValueError(f"webhook timeout_s={timeout_s} must be positive; pass e.g. 5")
        self.url = url
        self.timeout_s = timeout_s
        self._headers = {"Content-Type": "application/json", **(headers or {})}
        port = f":{parts.port}" if parts.port else ""
        # The name may be logged: never the path, query or credentials (tokens live there).
        self._name = f"webhook {parts.scheme}://{parts.hostname}{port}"

    @property
    def name(self) -> str:
        """``webhook <scheme>://<host>[:port]`` (no path, query or credentials)."""
        return self._name

    async def send(self, alert: AlertRecord) -> None:
        """POST the alert; raises :class:`OSError` when it was not taken."""
        body = json.dumps(alert_payload(alert), sort_keys=True).encode("utf-8")
        await asyncio.to_thread(self._post, body)

    def _post(self, body: bytes) -> None:
        request = urllib.request.Request(self.url, data=body, method="POST")
        for header, value in self._headers.items():
            request.add_header(header, value)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                status = int(response.status)
        except urllib.error.HTTPError as error:
            raise OSError(f"{self._name} answered HTTP {error.code}") from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise OSError(f"{self._name} could not be reached: {reason}") from None
        if not 200 <= status < 300:
            raise OSError(f"{self._name} answered HTTP {status}")
