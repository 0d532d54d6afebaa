"""Durable alerts: :class:`AlertDelivery` hands alerts recorded in the store's ``alerts``
table to every sink, at least once, retrying with backoff, and after a restart
re-delivers the alerts still marked undelivered."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import replace
from typing import Any, Final

from sagacrew.runtime.saga._alert_sinks import AlertSink
from sagacrew.runtime.saga._policy import RetryPolicy
from sagacrew.runtime.store import AlertRecord, Store, StoreError

ALERT_RETRY: Final = RetryPolicy(
    max_attempts=1, initial_backoff_s=1.0, backoff_multiplier=2.0, jitter=0.1, max_backoff_s=300.0
)
"""Backoff between delivery rounds of one alert: 1 s, 2 s, 4 s ... at most 5 minutes
(``max_attempts`` is ignored: an alert is retried until every sink took it)."""

PENDING_PAGE: Final = 500
"""Undelivered alerts read from the store at a time when re-delivering."""

logger = logging.getLogger("sagacrew.runtime.alerts")


class AlertDelivery:
    """Delivers alerts recorded in ``store`` to ``sinks`` (in order), at least once.

    A round sends the alert to each sink that has not taken it yet; when every sink took
    it the row is marked delivered (``delivered_at``), otherwise the failure is noted
    (``delivery_attempts``, ``last_delivery_error``) and the round is repeated after a
    backoff (``retry``, default :data:`ALERT_RETRY`; ``sleep`` waits, ``clock`` stamps
    ``delivered_at``). A sink that took an alert is not sent it again by this process; a
    process killed before marking it sends it again after the restart
    (:meth:`redeliver_pending`), so sinks may see an alert twice. Without sinks, alerts
    stay undelivered in the store (listed by ``GET /api/alerts`` and
    ``sagacrew alerts --pending``).

    Deliveries run as tasks on the running loop; :meth:`settle` waits for them and
    :meth:`close` stops them (undelivered alerts stay so in the store).
    """

    def __init__(
        self,
        store: Store,
        sinks: Sequence[AlertSink],
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        retry: RetryPolicy = ALERT_RETRY,
        rng: random.Random | None = None,
    ) -> None:
        self.store = store
        self.sinks = tuple(sinks)
        self._clock = clock
        self._sleep = sleep
        self._retry = retry
        self._rng = rng if rng is not None else random.Random()
        self._tasks: set[asyncio.Task[None]] = set()
        self._in_flight: dict[int, asyncio.Task[None]] = {}
        self._closed = False

    # --- raising --------------------------------------------------------------------

    async def raise_alert(self, alert: AlertRecord) -> AlertRecord:
        """Record ``alert`` in its own transaction, then deliver it in the background;
        return it with its id. A :class:`StoreError` (not recorded) reaches the caller."""
        recorded = replace(alert, id=self.store.record_alert(alert))
        self.deliver_soon(recorded)
        return recorded

    def raise_soon(self, alert: AlertRecord) -> None:
        """Record ``alert`` and deliver it, in a task (for callers that cannot await).

        Recording is idempotent: an alert already written with its saga transition is
        found by its key and delivered; while the store fails, recording is retried."""
        self._spawn(self._record_and_deliver(alert), f"alert:{alert.kind}:{alert.saga_id}")

    def deliver_soon(self, alert: AlertRecord) -> None:
        """Deliver a recorded alert (it has an ``id``) in a task, unless this process
        delivers it already."""
        if alert.id is None:
            raise ValueError(
                f"alert {alert.kind!r} of saga {alert.saga_id!r} has no id; record it first "
                "(Store.record_alert or raise_alert)"
            )
        if self.sinks and alert.id not in self._in_flight:
            task = self._spawn(self._deliver(alert, alert.id), f"alert:{alert.id}")
            if task is not None:
                self._track(alert.id, task)

    def redeliver_pending(self) -> None:
        """Deliver, in a task, every alert the store holds undelivered (those raised
        before a restart); a failing store or sink never reaches the caller."""
        if self.sinks:
            self._spawn(self._redeliver(), "alerts:redeliver")

    # --- lifecycle ------------------------------------------------------------------

    @property
    def in_flight(self) -> int:
        """Delivery tasks running here now (recording, delivering or re-delivering)."""
        return len(self._tasks)

    async def settle(self) -> None:
        """Wait until every delivery started here ended (delivered, or stopped by
        :meth:`close`); a sink that keeps failing keeps this waiting."""
        while self._tasks:
            await asyncio.wait(list(self._tasks))

    async def close(self) -> None:
        """Stop delivering; alerts not delivered yet stay undelivered in the store."""
        self._closed = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # --- internals ------------------------------------------------------------------

    def _spawn(self, work: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None] | None:
        if self._closed:
            work.close()
            logger.warning("alert delivery is closed; %s left for the next start", name)
            return None
        task = asyncio.get_running_loop().create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _track(self, alert_id: int, task: asyncio.Task[None]) -> None:
        """Note that ``task`` delivers the alert ``alert_id`` (until it ends)."""
        self._in_flight[alert_id] = task

        def untrack(done: asyncio.Task[None]) -> None:
            if self._in_flight.get(alert_id) is done:
                del self._in_flight[alert_id]

        task.add_done_callback(untrack)

    async def _backoff(self, attempt: int) -> None:
        await self._sleep(self._retry.delay_s(attempt, self._rng))

    async def _record_and_deliver(self, alert: AlertRecord) -> None:
        attempt = 0
        while True:
            try:
                alert_id = self.store.record_alert(alert)
                break
            except StoreError as exc:
                attempt += 1
                logger.warning("alert %s not recorded yet, retrying: %s", alert.kind, exc)
                await self._backoff(attempt)
        task = asyncio.current_task()
        if not self.sinks or alert_id in self._in_flight or task is None:
            return  # no sink, or another task of this process delivers it
        self._track(alert_id, task)
        await self._deliver(replace(alert, id=alert_id), alert_id)

    async def _deliver(self, alert: AlertRecord, alert_id: int) -> None:
        """Deliver until every sink took the alert (one task per alert, see ``_track``)."""
        taken: set[int] = set()
        attempt = 1
        while not await self._round(alert, alert_id, taken):
            await self._backoff(attempt)
            attempt += 1

    async def _round(self, alert: AlertRecord, alert_id: int, taken: set[int]) -> bool:
        """Send to each sink that has not taken the alert; True once it is marked
        delivered."""
        errors = []
        for index, sink in enumerate(self.sinks):
            if index in taken:
                continue
            try:
                await sink.send(alert)
            except Exception as exc:
                errors.append(f"{sink.name}: {type(exc).__name__}: {exc}")
                logger.warning(
                    "alert %d not taken by sink %s: %s", alert_id, sink.name, exc,
                    extra={"alert_id": alert_id, "saga_id": alert.saga_id},
                )  # fmt: skip
            else:
                taken.add(index)
        try:
            if errors:
                self.store.note_alert_delivery_failed(alert_id, "; ".join(errors))
            else:
                self.store.mark_alert_delivered(alert_id, self._clock())
        except StoreError as exc:
            logger.warning("alert %d: delivery not noted in the store: %s", alert_id, exc)
            return False
        return not errors

    async def _redeliver(self) -> None:
        attempt = 0
        while not self._closed:
            try:
                pending = self.store.list_alerts(delivered=False, limit=PENDING_PAGE)
            except StoreError as exc:
                attempt += 1
                logger.warning("undelivered alerts not read yet, retrying: %s", exc)
                await self._backoff(attempt)
                continue
            fresh = [a for a in pending if a.id is not None and a.id not in self._in_flight]
            if fresh:
                logger.info("re-delivering %d undelivered alerts", len(fresh))
            for alert in fresh:
                self.deliver_soon(alert)
            ids = [a.id for a in pending if a.id is not None]
            waiting = [self._in_flight[i] for i in ids if i in self._in_flight]
            if len(pending) < PENDING_PAGE or not waiting:
                return
            await asyncio.wait(waiting)  # the next page once these are delivered
