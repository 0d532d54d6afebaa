"""A started ``serve`` or ``worker`` process sets its startup heap aside from the garbage
collector's full collections, after collecting what startup left as garbage, and collects
its youngest generation less often."""

from __future__ import annotations

import json
import subprocess
import sys

from sagacrew.runtime import YOUNG_THRESHOLD

PROBE = """
import gc, json, weakref
from sagacrew.runtime import settle_startup_heap

class Node:
    pass

# A cycle startup left as garbage, and objects startup keeps.
first, second = Node(), Node()
first.other, second.other = second, first
freed = []
weakref.finalize(first, freed.append, "cycle")
del first, second
kept = [Node() for _ in range(100)]

threshold_before = gc.get_threshold()
frozen = settle_startup_heap()
tracked = {id(thing) for thing in gc.get_objects()}
print(json.dumps({
    "frozen": frozen,
    "freeze_count": gc.get_freeze_count(),
    "garbage_freed": freed,
    "kept_left_out_of_collections": not any(id(node) in tracked for node in kept),
    "tracked_after": len(tracked),
    "threshold_before": threshold_before,
    "threshold_after": gc.get_threshold(),
}))
"""


def test_settling_collects_garbage_sets_the_heap_aside_and_raises_the_young_threshold() -> None:
    # In a process of its own: freezing this test process's heap would outlive the test.
    probe = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120, check=True
    )
    report = json.loads(probe.stdout.splitlines()[-1])
    assert report["garbage_freed"] == ["cycle"]
    assert report["frozen"] == report["freeze_count"] > 1000
    assert report["kept_left_out_of_collections"] is True
    assert report["tracked_after"] < report["frozen"] / 10
    _, *older = report["threshold_before"]
    assert report["threshold_after"] == [YOUNG_THRESHOLD, *older]
