"""The store interface, by role, implemented by the SQLite and PostgreSQL backends.

As pyeventsourcing layers its recorders, the store is four roles, each an abstract class
in its own module: :class:`EventRecorder` (event streams and snapshots),
:class:`SagaRecorder` (saga executions, step log, dead letters written with them),
:class:`OperationsRecorder` (dead letters, external calls, alerts) and
:class:`LogRecorder` (message log, validation runs, the validator's read-only SQL) and
:class:`LeaseRecorder` (which worker drives which saga). :class:`Store` is all five plus
health; a caller may type against the role it needs.
Every query a caller needs is a method: SQL lives in the backends (``_sql_*``), except the
validator's own checks, which are SQL by design (``LogRecorder.query``).

:func:`sagacrew.runtime.store.open_store` picks a backend from a URL. All methods are
synchronous: the runtime calls reads and small writes from its asyncio loop, and does its
group commits (saga transitions, event appends, the message log) on the store's
:meth:`Store.writer_thread`, over a connection of their own.
"""

from __future__ import annotations

from abc import abstractmethod

from sagacrew.runtime.store._event_recorder import EventRecorder
from sagacrew.runtime.store._lease_recorder import LeaseRecorder
from sagacrew.runtime.store._log_recorder import LogRecorder
from sagacrew.runtime.store._operations_recorder import OperationsRecorder
from sagacrew.runtime.store._saga_recorder import SagaRecorder
from sagacrew.runtime.store._writer import WriterThread


class Store(EventRecorder, SagaRecorder, OperationsRecorder, LogRecorder, LeaseRecorder):
    """Event store plus the runtime's operational tables (``schema.sql``)."""

    _writer_thread: WriterThread | None = None

    # --- the writer thread ----------------------------------------------------------

    def writer_thread(self) -> WriterThread:
        """The thread that does this store's group commits off the event loop (see
        :class:`WriterThread`): made on first use, stopped by :meth:`close`. A backend
        gives it a connection of its own, so reads never wait behind its commits."""
        if self._writer_thread is None:
            self._writer_thread = WriterThread()
        return self._writer_thread

    def _stop_writer_thread(self) -> None:
        """Let the writer thread finish its write in progress and stop (on close)."""
        if self._writer_thread is not None:
            self._writer_thread.close()

    # --- health ---------------------------------------------------------------------

    @property
    def available(self) -> bool:
        """False while the last attempt to reach the store failed (no I/O: cheap to ask).

        Backends set it when a call raises :class:`StoreUnavailable` and clear it when a
        call (or :meth:`ping`) reaches the store again."""
        return getattr(self, "_available", True)

    def ping(self) -> None:
        """Reach the store now (reconnecting if it was lost); raises
        :class:`StoreUnavailable` when it cannot be reached. Used by readiness checks."""
        self.query("SELECT 1")

    @abstractmethod
    def close(self) -> None:
        """Close the connection; the store is unusable afterwards."""

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
