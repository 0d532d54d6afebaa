"""The actor message log: every handled envelope, buffered, written to ``actor_message_log``.

:class:`MessageLog` is the actor system's message observer. Rows of one event-loop turn
share a transaction, written after the turn on the store's writer thread (the log never
holds up a reply, nor the loop); a failed message's row is written at once. Rows leave
the buffer only once written: while the store cannot be written they are kept (at most
:data:`MESSAGE_LOG_BACKLOG`; older ones are dropped, counted and logged) and retried.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from sagacrew.runtime.messages import Envelope
from sagacrew.runtime.store import MessageLogEntry, Store, StoreError

logger = logging.getLogger("sagacrew.runtime")

MESSAGE_LOG_BACKLOG = 100_000
"""Most actor message-log rows kept in memory while the store cannot be written."""


class MessageLog:
    """Buffered ``actor_message_log`` rows of one system, written to ``store``.

    ``clock`` (seconds) dates the rows; ``dropped`` counts the rows given up on because the
    store stayed unwritable.
    """

    def __init__(self, store: Store, clock: Callable[[], float]) -> None:
        self._store = store
        self._clock = clock
        self._rows: list[MessageLogEntry] = []
        self._sending = False
        self.dropped = 0
        """Message-log rows dropped because the store stayed unwritable (see flush)."""

    def observe(
        self, actor_path: str, message: Any, elapsed_s: float, error: BaseException | None
    ) -> None:
        """Log a handled envelope to ``actor_message_log``; rows of one loop turn share a
        transaction, written after the turn (the log never holds up a reply)."""
        if not isinstance(message, Envelope):
            return
        self._rows.append(
            MessageLogEntry(
                message_id=message.message_id,
                actor=actor_path.rsplit("/", 1)[-1],
                message_name=message.name,
                correlation_id=message.correlation_id,
                causation_id=message.causation_id,
                received_at=self._clock() - elapsed_s,
                handled_ms=elapsed_s * 1000.0,
                outcome="error" if error is not None else "ok",
                error=None if error is None else f"{type(error).__name__}: {error}",
            )
        )
        if error is not None:
            # A failure is written at once: the operations read failures from the log
            # (SAGA-003's figures, the incident report) right after they happen.
            self.flush()
        elif len(self._rows) == 1 and not self._sending:
            asyncio.get_running_loop().call_soon(self._send)

    def _send(self) -> None:
        """Write the buffered rows on the store's writer thread (one write in flight; rows
        logged meanwhile go with the next)."""
        if self._sending or not self._rows:
            return
        entries, self._rows = self._rows, []
        self._sending = True
        written = self._store.writer_thread().submit(lambda: self._store.log_messages(entries))

        def done(outcome: asyncio.Future[None]) -> None:
            self._sending = False
            error = None if outcome.cancelled() else outcome.exception()
            if error is not None:
                self._rows[:0] = entries  # not written: kept, in order, for the next try
                self._failed(error)
            elif self._rows:
                self._send()

        written.add_done_callback(done)

    def flush(self) -> None:
        """Write the logged messages not yet written, now (a write in flight on the
        writer thread finishes on its own).

        Rows leave the buffer only once written: when the store fails (e.g. it is
        unreachable), they stay and go with the next flush (at most
        ``MESSAGE_LOG_BACKLOG`` rows are kept; older ones are counted in ``dropped`` and
        logged)."""
        entries = list(self._rows)
        if not entries:
            return
        try:
            self._store.log_messages(entries)
        except StoreError as exc:
            self._failed(exc)
            return
        del self._rows[: len(entries)]

    def _failed(self, exc: BaseException) -> None:
        """The rows could not be written: keep at most ``MESSAGE_LOG_BACKLOG`` of them and
        try again in a second."""
        overflow = len(self._rows) - MESSAGE_LOG_BACKLOG
        if overflow > 0:
            del self._rows[:overflow]
            self.dropped += overflow
            logger.error("actor message log: %d rows dropped: %s", overflow, exc)
        else:
            logger.warning("actor message log not written, kept for the next flush: %s", exc)
        if self._rows:
            asyncio.get_running_loop().call_later(1.0, self._send)
