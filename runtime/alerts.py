"""Durable alerts for operators: the sinks they are delivered to, and their delivery.

An alert (:class:`~sagacrew.runtime.saga.Alert`: a dead-lettered compensation, a stalled
saga, a saga whose driver keeps failing, ...) is written to the store's ``alerts`` table
in the same transaction as the saga transition that raises it, then delivered to every
configured sink at least once: the ``on_alert`` callback (:class:`CallbackSink`), the
log (:class:`LoggingSink`), a webhook (:class:`WebhookSink`), or any :class:`AlertSink`.
A sink that fails is retried with backoff; alerts still undelivered when a process stops
(or is killed) are re-delivered by the next process's ``recover()``. Pass sinks with
``SagaSystem(alert_sinks=...)`` or ``SagaOrchestrator(alert_sinks=...)``.
"""

from sagacrew.runtime.saga._alert_sinks import (
    ALERT_SUBJECT,
    ALERT_WEBHOOK_ENV,
    WEBHOOK_TIMEOUT_S,
    AlertSink,
    CallbackSink,
    LoggingSink,
    WebhookSink,
    alert_payload,
    alert_record,
    alert_subject,
    as_alert,
)
from sagacrew.runtime.saga._alerts import ALERT_RETRY, AlertDelivery
from sagacrew.runtime.store import AlertRecord

__all__ = [
    "ALERT_RETRY",
    "ALERT_SUBJECT",
    "ALERT_WEBHOOK_ENV",
    "WEBHOOK_TIMEOUT_S",
    "AlertDelivery",
    "AlertRecord",
    "AlertSink",
    "CallbackSink",
    "LoggingSink",
    "WebhookSink",
    "alert_payload",
    "alert_record",
    "alert_subject",
    "as_alert",
]
