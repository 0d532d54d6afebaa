"""Group commit: writes requested while the previous batch commits share one transaction.

Each caller still awaits its own write before acting on it, so "persist before act"
holds; concurrent writers only share the cost of one durable commit. When a batch
fails, its requests are retried one by one, so one bad request fails alone.

When the store is unavailable (:class:`StoreUnavailable`: the connection was lost,
perhaps during the commit, so the batch's outcome is unknown), the whole batch is
written again once the store is back, after a backoff: the writers wait (their sagas
pause) instead of failing (unless the committer was made with ``wait_out_outages``
false: its writers then get the error, as the gateways' ledger writes do). This is safe
because every batch is idempotent: saga transitions have unique keys and ``ON CONFLICT DO
NOTHING`` inserts, and an event append that already committed comes back as
:class:`DuplicateCommandError` (its idempotency key) when the batch is then retried one
by one. Requests whose writers stopped waiting (cancelled) are dropped from the retry:
recovery redoes them from the store.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from sagacrew.runtime.store._base import Store
from sagacrew.runtime.store._errors import StoreUnavailable
from sagacrew.runtime.store._operations_recorder import LedgerWrite
from sagacrew.runtime.store._records import AppendRequest, ExternalCall
from sagacrew.runtime.store._writer import STOPPED, WriterThread

RETRY_MAX_S = 2.0
"""Longest wait between two attempts to write a batch while the store is unavailable."""

Request = TypeVar("Request")
Result = TypeVar("Result")


class _Outcome(Generic[Result]):
    """What writing one batch came to, on the writer thread: every result, the store
    unavailable, or (the batch failed) each request's own result or error."""

    __slots__ = ("each", "results", "unavailable")

    def __init__(
        self,
        results: list[Result] | None = None,
        unavailable: StoreUnavailable | None = None,
        each: list[Result | Exception] | None = None,
    ) -> None:
        self.results = results
        self.unavailable = unavailable
        self.each = each


class GroupCommitter(Generic[Request, Result]):
    """Collects requests and writes each batch with ``apply_many``.

    With a ``writer`` thread (the store's :meth:`~Store.writer_thread`), a batch is written
    there while the event loop goes on, one batch at a time: requests made meanwhile form
    the next batch, written when this one is done (so the busier the loop, the larger the
    batches). Without one, each loop iteration's batch is written on the loop.
    """

    def __init__(
        self,
        apply_many: Callable[[Sequence[Request]], list[Result]],
        apply_one: Callable[[Request], Result],
        *,
        writer: WriterThread | None = None,
        wait_out_outages: bool = True,
    ) -> None:
        self._apply_many = apply_many
        self._wait_out_outages = wait_out_outages
        self._apply_one = apply_one
        self._writer = writer
        self._pending: list[tuple[Request, asyncio.Future[Result]]] = []
        self._scheduled = False
        self._in_flight = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self.batches = 0
        """Transactions written so far (for benchmarks and tests)."""
        self.requests = 0
        """Requests written so far."""
        self.unavailable = 0
        """Batches that met an unavailable store and were written again later."""

    def apply(self, request: Request) -> asyncio.Future[Result]:
        """Write ``request`` (durably, with its batch): await the future for its result.
        (A future, not a coroutine: one frame less to resume at every transition.)"""
        loop = asyncio.get_running_loop()
        if loop is not self._loop and (self._loop is None or not self._loop.is_running()):
            self._adopt(loop)
        future: asyncio.Future[Result] = loop.create_future()
        self._pending.append((request, future))
        if not self._scheduled and not self._in_flight:
            self._scheduled = True
            loop.call_soon(self.flush)
        return future

    def _adopt(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start afresh on ``loop``, the loop before having stopped: a committer shared by
        a store (its event appends, its ledger) outlives an event loop (``asyncio.run``
        once per phase, a test per loop), and the loop before may have ended with a batch
        in flight or a flush scheduled, whose answer it never got. Waiting for that
        answer would hold every write on this loop forever; the writer thread writes one
        batch at a time, so the next batch simply goes after it. Requests of the loop
        before are dropped: nobody awaits them any more (what they wrote or not,
        recovery reads from the store)."""
        self._loop = loop
        self._pending = []
        self._scheduled = False
        self._in_flight = False

    def flush(self) -> None:
        """Write every pending request now (also called on close); with a batch in
        flight, they go when it is done."""
        self._scheduled = False
        if self._in_flight:
            return
        batch, self._pending = self._pending, []
        if not batch:
            return
        self.batches += 1
        self.requests += len(batch)
        self._write(batch, 0.0)

    def _write(self, batch: list[tuple[Request, asyncio.Future[Result]]], waited: float) -> None:
        batch = [(request, future) for request, future in batch if not future.done()]
        if not batch:
            self._done()
            return
        requests = [request for request, _ in batch]
        if self._writer is None:
            self._settle(batch, self._commit(requests), waited)
            return
        try:
            written = self._writer.submit(lambda: self._commit(requests))
        except StoreUnavailable as stopped:  # the store was closed
            for _, future in batch:
                if not future.done():
                    future.set_exception(stopped)
            return
        self._in_flight = True

        def settle(done: asyncio.Future[_Outcome[Result]]) -> None:
            if done.cancelled() or done.exception() is not None:
                error = None if done.cancelled() else done.exception()
                for _, future in batch:
                    if not future.done():
                        future.set_exception(error or STOPPED)
                self._done()
                return
            self._settle(batch, done.result(), waited)

        written.add_done_callback(settle)

    def _commit(self, requests: list[Request]) -> _Outcome[Result]:
        """Write ``requests`` in one transaction (on the writer thread, when there is one);
        when that fails, each on its own, so that one bad request fails alone."""
        try:
            return _Outcome(results=self._apply_many(requests))
        except StoreUnavailable as exc:
            return _Outcome(unavailable=exc)
        except Exception:
            each: list[Result | Exception] = []
            for request in requests:
                try:
                    each.append(self._apply_one(request))
                except Exception as exc:
                    each.append(exc)
            return _Outcome(each=each)

    def _settle(
        self,
        batch: list[tuple[Request, asyncio.Future[Result]]],
        outcome: _Outcome[Result],
        waited: float,
    ) -> None:
        """Answer each writer of ``batch``; write the batch again later when the store was
        unavailable."""
        if outcome.unavailable is not None and not self._wait_out_outages:
            failed: list[Result | Exception] = [outcome.unavailable] * len(batch)
            outcome = _Outcome(each=failed)
        if outcome.unavailable is not None:
            self.unavailable += 1
            delay = min(max(outcome.unavailable.retry_after_s, waited * 2), RETRY_MAX_S)
            asyncio.get_running_loop().call_later(delay, self._write, batch, delay)
            return
        answers: list[Result | Exception] = (
            outcome.each if outcome.each is not None else list(outcome.results or [])
        )
        for (_, future), answer in zip(batch, answers, strict=True):
            if future.done():
                continue
            if isinstance(answer, Exception):
                future.set_exception(answer)
            else:
                future.set_result(answer)
        self._done()

    def _done(self) -> None:
        """The batch in flight is written: the next one goes."""
        self._in_flight = False
        if self._pending and not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self.flush)


Shared = TypeVar("Shared")


def _one_per_store(
    shared: weakref.WeakKeyDictionary[Store, Shared], store: Store, make: Callable[[], Shared]
) -> Shared:
    """``store``'s entry in ``shared``, made with ``make`` on first use."""
    found = shared.get(store)
    if found is None:
        found = shared[store] = make()
    return found


_APPENDERS: weakref.WeakKeyDictionary[Store, GroupCommitter[AppendRequest, int]] = (
    weakref.WeakKeyDictionary()
)


def event_appender(store: Store) -> GroupCommitter[AppendRequest, int]:
    """The store's shared group committer for event appends (one per store)."""
    return _one_per_store(
        _APPENDERS,
        store,
        lambda: GroupCommitter(
            store.append_many,
            lambda r: store.append(
                r.stream_id,
                r.expected_version,
                r.events,
                idempotency_key=r.idempotency_key,
                result=r.result,
            ),
            writer=store.writer_thread(),
        ),
    )


_LEDGERS: weakref.WeakKeyDictionary[Store, GroupCommitter[LedgerWrite, bool | ExternalCall]] = (
    weakref.WeakKeyDictionary()
)


def ledger_writer(store: Store) -> GroupCommitter[LedgerWrite, bool | ExternalCall]:
    """The store's shared group committer for writes to the external-calls ledger (one per
    store): the gateways' and the completion events'. A write that meets an unavailable
    store fails with :class:`StoreUnavailable` (the gateway answers the call so, and its
    saga pauses) instead of waiting for the store."""
    return _one_per_store(
        _LEDGERS,
        store,
        lambda: GroupCommitter(
            store.write_external_calls,
            lambda write: store.write_external_calls([write])[0],
            writer=store.writer_thread(),
            wait_out_outages=False,
        ),
    )
