"""Group commit: writes requested in the same event-loop iteration share one transaction.

Each caller still awaits its own write before acting on it, so "persist before act"
holds; concurrent writers only share the cost of one durable commit. When a batch
fails, its requests are retried one by one, so one bad request fails alone.

When the store is unavailable (:class:`StoreUnavailable`: the connection was lost,
perhaps during the commit, so the batch's outcome is unknown), the whole batch is
written again once the store is back, after a backoff: the writers wait (their sagas
pause) instead of failing. This is safe because every batch is idempotent: saga
transitions have unique keys and ``ON CONFLICT DO NOTHING`` inserts, and an event append
that already committed comes back as :class:`DuplicateCommandError` (its idempotency key)
when the batch is then retried one by one. Requests whose writers stopped waiting
(cancelled) are dropped from the retry: recovery redoes them from the store.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from sagacrew.runtime.store._base import Store
from sagacrew.runtime.store._errors import StoreUnavailable
from sagacrew.runtime.store._records import AppendRequest

RETRY_MAX_S = 2.0
"""Longest wait between two attempts to write a batch while the store is unavailable."""

Request = TypeVar("Request")
Result = TypeVar("Result")


class GroupCommitter(Generic[Request, Result]):
    """Collects requests and writes each loop iteration's batch with ``apply_many``."""

    def __init__(
        self,
        apply_many: Callable[[Sequence[Request]], list[Result]],
        apply_one: Callable[[Request], Result],
    ) -> None:
        self._apply_many = apply_many
        self._apply_one = apply_one
        self._pending: list[tuple[Request, asyncio.Future[Result]]] = []
        self._scheduled = False
        self.batches = 0
        """Transactions written so far (for benchmarks and tests)."""
        self.requests = 0
        """Requests written so far."""
        self.unavailable = 0
        """Batches that met an unavailable store and were written again later."""

    async def apply(self, request: Request) -> Result:
        """Write ``request`` (durably, with its batch) and return its result."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Result] = loop.create_future()
        self._pending.append((request, future))
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self.flush)
        return await future

    def flush(self) -> None:
        """Write every pending request now (also called on close)."""
        self._scheduled = False
        batch, self._pending = self._pending, []
        if not batch:
            return
        self.batches += 1
        self.requests += len(batch)
        self._write(batch, 0.0)

    def _write(self, batch: list[tuple[Request, asyncio.Future[Result]]], waited: float) -> None:
        batch = [(request, future) for request, future in batch if not future.done()]
        if not batch:
            return
        try:
            results = self._apply_many([request for request, _ in batch])
        except StoreUnavailable as exc:
            self.unavailable += 1
            delay = min(max(exc.retry_after_s, waited * 2), RETRY_MAX_S)
            asyncio.get_running_loop().call_later(delay, self._write, batch, delay)
            return
        except Exception:
            for request, future in batch:
                try:
                    result = self._apply_one(request)
                except Exception as exc:
                    if not future.done():
                        future.set_exception(exc)
                else:
                    if not future.done():
                        future.set_result(result)
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)


_APPENDERS: weakref.WeakKeyDictionary[Store, GroupCommitter[AppendRequest, int]] = (
    weakref.WeakKeyDictionary()
)


def event_appender(store: Store) -> GroupCommitter[AppendRequest, int]:
    """The store's shared group committer for event appends (one per store)."""
    appender = _APPENDERS.get(store)
    if appender is None:
        appender = GroupCommitter(
            store.append_many,
            lambda r: store.append(
                r.stream_id,
                r.expected_version,
                r.events,
                idempotency_key=r.idempotency_key,
                result=r.result,
            ),
        )
        _APPENDERS[store] = appender
    return appender
