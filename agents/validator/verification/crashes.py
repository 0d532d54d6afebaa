"""Did the system crash while a workload ran? Handlers that raised, sagas that hit a defect.

A saga that compensates after a business refusal is the system working; a handler that
raised (e.g. a ``rejects_when`` comparing a number with a string) or a step that hit a
defect is the system crashing, however the saga then ended. ``sagacrew run`` exits
non-zero on any.
"""

from __future__ import annotations

from collections.abc import Iterable

from sagacrew.runtime import SagaResult, open_store

__all__ = ["crashes"]

_LISTED = 3


def crashes(store_url: str, since: float, results: Iterable[SagaResult]) -> list[str]:
    """One line per kind of crash since ``since`` (epoch seconds), with a few examples:
    actors whose handler raised, and sagas whose step hit a defect."""
    store = open_store(store_url)
    try:
        raised = store.actor_errors(since)
    finally:
        store.close()
    problems: list[str] = []
    if raised:
        first = "; ".join(f"{actor}: {error}" for actor, error in raised[:_LISTED])
        problems.append(f"{len(raised)} message(s) made a handler raise ({first})")
    defects = [r for r in results if r.error and "defect" in r.error]
    if defects:
        first = "; ".join(f"{r.saga_id}: {r.error}" for r in defects[:_LISTED])
        problems.append(f"{len(defects)} saga(s) hit a defect ({first})")
    return problems
