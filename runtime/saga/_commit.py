"""Group commit: transitions persisted in the same loop iteration share one transaction.

Each saga still awaits its own transition's commit before acting on it, so "persist
before act" holds; concurrent sagas just share the cost of one durable commit. A batch
that fails is retried transition by transition, so one bad transition fails alone.
"""

from __future__ import annotations

import asyncio

from sagacrew.runtime.store import SagaTransition, Store, TransitionIds


class GroupCommitter:
    """Collects transitions and writes each loop iteration's batch in one transaction."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._pending: list[tuple[SagaTransition, asyncio.Future[TransitionIds]]] = []
        self._scheduled = False
        self.batches = 0
        self.transitions = 0

    async def apply(self, transition: SagaTransition) -> TransitionIds:
        """Persist ``transition`` (durably, with its batch) and return its ids."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[TransitionIds] = loop.create_future()
        self._pending.append((transition, future))
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self.flush)
        return await future

    def flush(self) -> None:
        """Write every pending transition now (also called on close)."""
        self._scheduled = False
        batch, self._pending = self._pending, []
        if not batch:
            return
        self.batches += 1
        self.transitions += len(batch)
        try:
            ids = self._store.apply_saga_transitions([transition for transition, _ in batch])
        except Exception:
            for transition, future in batch:
                try:
                    result = self._store.apply_saga_transition(transition)
                except Exception as exc:
                    if not future.done():
                        future.set_exception(exc)
                else:
                    if not future.done():
                        future.set_result(result)
            return
        for (_, future), result in zip(batch, ids, strict=True):
            if not future.done():
                future.set_result(result)
