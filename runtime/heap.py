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

It also raises the youngest generation's threshold from CPython's 700 to
:data:`YOUNG_THRESHOLD` allocations. A saga step allocates a few dozen container objects
(its context, envelope, records, futures), nearly all freed by reference counting within
the step; at 700 the collector ran every few steps, each time walking what the sagas in
flight hold, for about a tenth of the engine's CPU (an interleaved A/B on SQLite NORMAL:
9 % less CPU per saga at 10,000; the hand-written asyncio loop of ``bench/``, which
allocates less, 3 %). A collection of the youngest generation walks at most that many
objects, a fraction of a millisecond; the older generations' thresholds are unchanged.

Process entry points call it once started: ``serve`` after recovery, ``worker`` before its
loop, a worker hosted by Ray when its actor is made. A library caller (tests, an
application embedding the runtime) decides for itself.
"""

from __future__ import annotations

import gc
import logging

logger = logging.getLogger("sagacrew.runtime")

__all__ = ["YOUNG_THRESHOLD", "settle_startup_heap"]

YOUNG_THRESHOLD = 10_000
"""Allocations (net of frees) between two collections of the youngest generation."""


def settle_startup_heap() -> int:
    """Collect startup's garbage, then freeze what is alive, and raise the youngest
    generation's threshold to :data:`YOUNG_THRESHOLD` (never lowering it); how many
    objects are frozen (all frozen so far in this process)."""
    gc.collect()
    gc.freeze()
    young, *older = gc.get_threshold()
    gc.set_threshold(max(young, YOUNG_THRESHOLD), *older)
    frozen = gc.get_freeze_count()
    logger.info("startup heap settled: %d objects set aside from full collections", frozen)
    return frozen
