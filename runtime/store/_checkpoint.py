"""WAL checkpoints of a SQLite store, on a thread of their own instead of in a commit.

In WAL mode SQLite appends each commit to the ``-wal`` file, and copies the file back into
the database (a *checkpoint*) once it holds ``wal_autocheckpoint`` pages (1,000 by
default): inside the commit that crossed the mark, which then lasts as long as the copy
and its ``fsync`` (tens of milliseconds). The store's writer thread commits every saga's
transitions, so each such commit stalled every saga at once, a few times a second under
load: timed against a run, the step cycle's longest 1 % fell in those commits.

:class:`WalCheckpointer` runs ``PRAGMA wal_checkpoint(PASSIVE)`` on a connection of its
own, a short pause after the writer commits. A passive checkpoint never blocks a writer
(SQLite lets commits append to the WAL while it copies), and the copy runs outside the
GIL. The writer connection keeps an automatic checkpoint as a backstop only, at
:data:`BACKSTOP_PAGES`: should this thread fall behind or fail, the WAL stays bounded as
before. Durability is unchanged: a checkpoint moves committed pages, it commits nothing.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable

logger = logging.getLogger("sagacrew.runtime.store")

BACKSTOP_PAGES = 10_000
"""The writer connection's own ``wal_autocheckpoint`` (SQLite's default is 1,000): it
checkpoints in a commit only when the checkpointer has left that many pages unsaved."""

PAUSE_S = 0.2
"""How long the checkpointer lets commits gather after the first one it is told of: at
most one checkpoint (one ``fsync`` of the database) per pause."""


class WalCheckpointer:
    """Checkpoints a WAL database from its own thread and connection while writers commit.

    ``connect`` opens the connection (on the checkpointer's thread). The writer calls
    :meth:`committed` after each commit; :meth:`close` stops the thread."""

    def __init__(
        self, connect: Callable[[], sqlite3.Connection], *, pause_s: float = PAUSE_S
    ) -> None:
        self._connect = connect
        self._pause_s = pause_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="sagacrew-wal-checkpointer", daemon=True
        )
        self._thread.start()

    def committed(self) -> None:
        """A commit appended to the WAL: checkpoint after the pause."""
        if not self._wake.is_set():
            self._wake.set()

    def stop(self) -> None:
        """Ask the thread to stop (it ends after the checkpoint in progress, if any)."""
        self._stop.set()
        self._wake.set()

    def close(self) -> None:
        """Stop the thread and wait for it to end."""
        self.stop()
        self._thread.join()

    def _run(self) -> None:
        try:
            conn = self._connect()
        except sqlite3.Error as exc:
            logger.warning(
                "WAL checkpointer could not connect (%s); commits checkpoint every %d pages",
                exc,
                BACKSTOP_PAGES,
            )
            return
        try:
            while not self._stop.is_set():
                self._wake.wait()
                if self._stop.wait(self._pause_s):
                    return
                self._wake.clear()
                self._checkpoint(conn)
        finally:
            conn.close()

    def _checkpoint(self, conn: sqlite3.Connection) -> None:
        try:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.Error as exc:
            logger.warning(
                "WAL checkpoint failed (%s); commits checkpoint every %d pages until one succeeds",
                exc,
                BACKSTOP_PAGES,
            )
