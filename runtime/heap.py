"""A long-running process's startup heap, set aside from the garbage collector.

CPython's cycle collector now and then runs a full collection, which walks every object
the process holds. In a ``serve`` or ``worker`` process most of those are what startup
made and never frees: modules, classes, functions, the API's routes and models (about
58,000 objects for the order example's ``serve``, 35 to 45 ms to walk). While it walks,
the event loop stops, and so does every saga: such a pause was the longest step cycles of
a run. :func:`settle_startup_heap` collects once what startup left as garbage, then moves
every object still alive into the collector's permanent generation (``gc.freeze``, as
large Python services do after start): full collections from then on walk only the objects
made since. Frozen objects are still freed by reference counting; only a cycle among them
is never collected, and startup's cycles were collected just before.

Process entry points call it once started: ``serve`` after recovery, ``worker`` before its
loop, a worker hosted by Ray when its actor is made. A library caller (tests, an
application embedding the runtime) decides for itself.
"""

from __future__ import annotations

import gc
import logging

logger = logging.getLogger("sagacrew.runtime")

__all__ = ["settle_startup_heap"]


def settle_startup_heap() -> int:
    """Collect startup's garbage, then freeze what is alive; how many objects are frozen
    (all frozen so far in this process)."""
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    logger.info("startup heap settled: %d objects set aside from full collections", frozen)
    return frozen
