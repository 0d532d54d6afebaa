"""The store's writer thread: group commits leave the event loop.

A durable commit waits for the disk (``fsync`` on SQLite) or for the server (a round trip
per statement on PostgreSQL). Done on the event loop, it stops every saga for as long as
it lasts. :class:`WriterThread` is one thread per store that does the group-committed
writes (saga transitions, event appends, the actor message log) on a connection of its
own, while the loop goes on: reads (status, recovery) use the store's other connection,
and never wait behind a batch. Each writer still awaits its own commit before it acts,
so "persist before act" holds as before.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from sagacrew.runtime.store._errors import StoreUnavailable

T = TypeVar("T")

STOPPED = StoreUnavailable(
    "the store's writer thread stopped (the store was closed)",
    fix="the saga resumes from the store on recovery; open the store again",
)
"""What a write handed to a stopped writer thread fails with."""


class WriterThread:
    """One thread running a store's writes, one at a time, in the order they were given."""

    def __init__(self, name: str = "sagacrew-store-writer") -> None:
        self._thread: threading.Thread | None = None
        self._executor = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix=name, initializer=self._started
        )
        self._closed = False

    def _started(self) -> None:
        self._thread = threading.current_thread()

    @property
    def thread(self) -> threading.Thread | None:
        """The writer's thread, once it ran a write."""
        return self._thread

    @property
    def here(self) -> bool:
        """True when called from this writer's thread."""
        return self._thread is threading.current_thread()

    def submit(self, work: Callable[[], T]) -> asyncio.Future[T]:
        """Run ``work`` on the writer thread, in turn with the writes before it; a future
        of the running loop for its result. :data:`STOPPED` once the store was closed."""
        try:
            return asyncio.wrap_future(self._executor.submit(work))
        except RuntimeError:  # the store was closed: its writer takes nothing more
            raise STOPPED from None

    def close(self) -> None:
        """Let the write in progress finish, then stop the thread."""
        if not self._closed:
            self._closed = True
            self._executor.shutdown(wait=True)
