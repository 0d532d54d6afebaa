"""Workers: an orchestrator that drives only the sagas it holds a lease on.

With a :class:`Lease`, several orchestrators (worker processes) share one PostgreSQL
store. ``start()`` only persists a saga; ``recover()`` (called on start and then every
poll by the worker loop) claims sagas in flight that no live worker holds, up to the
lease's ``capacity``, and drives them, each transition written under the lease's fence;
``renew()`` (every heartbeat) extends the leases still held and stops driving the sagas
another worker claimed meanwhile. A saga that ends gives its lease up. See
:class:`~sagacrew.runtime.store.LeaseRecorder` for the store's side.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sagacrew.runtime.saga._driving import REDRIVE_REQUESTED, _result_of, parked_in
from sagacrew.runtime.saga._errors import UnknownSagaError
from sagacrew.runtime.saga._history import History
from sagacrew.runtime.saga._recovery import Recovery
from sagacrew.runtime.saga._types import ACTIVE_STATES, SagaResult, SagaState
from sagacrew.runtime.store import (
    CorruptRecord,
    DeadLetter,
    DeadLetterUpdate,
    Fence,
    SagaTransition,
    SagaUpdate,
    StoredRun,
)

logger = logging.getLogger("sagacrew.runtime.saga")


@dataclass(frozen=True)
class Lease:
    """How a worker holds sagas: its id (unique among the workers), how long a lease lasts
    without a heartbeat, how many sagas it drives at most, and the wall clock shared by
    the workers (seconds since the epoch)."""

    owner: str
    lease_s: float = 5.0
    capacity: int = 500
    clock: Callable[[], float] = field(default=time.time, compare=False)


class Leasing(Recovery):
    """Claims, heartbeats and releases of an orchestrator with a :class:`Lease`."""

    claimed = 0
    """Sagas this worker claimed (a saga claimed again after a lost lease counts again)."""
    leases_lost = 0
    """Sagas a heartbeat found claimed by another worker (this one stopped driving them)."""
    _known_versions: list[str]

    async def claim(self) -> list[str]:
        """Claim sagas in flight that no live worker holds (up to the capacity left) and
        drive them; their ids."""
        lease = self._lease
        assert lease is not None
        room = lease.capacity - len(self._live)
        if room <= 0 or self._closed:
            return []
        states = [state.value for state in ACTIVE_STATES]
        claimed = self.store.claim_sagas(
            lease.owner,
            states=states,
            limit=room,
            lease_s=lease.lease_s,
            now=lease.clock(),
            versions=self._known_versions,
        )
        try:  # every claimed saga's rows at once; one by one only to find a corrupt one
            stored: dict[str, StoredRun] | None = self.store.stored_runs(sorted(claimed))
        except CorruptRecord:
            stored = None
        driven = []
        for saga_id, generation in sorted(claimed.items()):
            fence = Fence(lease.owner, generation)
            live = self._live.get(saga_id)
            if live is not None:
                old = live.run.fence
                if old is not None and generation == old.generation + 1:
                    live.run.fence = fence  # our own lease had expired, nobody took it
                    continue
                # another worker held it meanwhile: drive it again from what is stored
                self._forget(live.run)
                live.task.cancel()
            try:
                one = stored if stored is not None else self.store.stored_runs([saga_id])
                run = one.get(saga_id)  # read alone, a corrupt saga raises here
                if run is None or self._plan_of(run.saga) is None:
                    continue
                saga, history = run.saga, History.from_log(run.steps)
                parked, redrive = parked_in(run.dead_letters)
            except CorruptRecord as error:
                await self._quarantine_saga(saga_id, error)
                continue
            self._spawn(saga, history, parked, redrive, fence=fence)
            driven.append(saga_id)
        self.claimed += len(driven)
        if driven:
            logger.info("claimed %d sagas", len(driven), extra={"owner": lease.owner})
        return driven

    def renew(self) -> int:
        """Extend the leases this worker still holds; stop driving the sagas whose lease
        another worker took (their new owner resumes them). How many are held."""
        lease = self._lease
        assert lease is not None
        held = self.store.renew_leases(lease.owner, until=lease.clock() + lease.lease_s)
        for saga_id, live in list(self._live.items()):
            fence = live.run.fence
            if fence is not None and held.get(saga_id) != fence.generation:
                logger.warning(
                    "lease lost; another worker drives the saga now",
                    extra={"saga_id": saga_id, "owner": lease.owner},
                )
                self._forget(live.run)
                live.task.cancel()
                self.leases_lost += 1
        return len(held)

    def release_all(self) -> None:
        """Give up every lease of the sagas driven here (on a graceful stop: the other
        workers take them over at once instead of after the lease)."""
        for live in list(self._live.values()):
            if live.run.fence is not None:
                self.store.release_lease(live.run.fence.owner, live.run.saga.saga_id)

    async def take_inbox(self) -> int:
        """Deliver the completion events other workers received for the sagas driven here
        (then remove them: one delivered twice is taken at most once); how many."""
        lease = self._lease
        assert lease is not None
        events = self.store.inbox_of(lease.owner)
        for event in events:
            await self.deliver(event.event_name, event.correlation_id, event.payload)
        self.store.remove_from_inbox([event.id for event in events])
        return len(events)

    # --- operations across the workers ---------------------------------------------

    def _pause_cluster(self, paused: bool) -> None:
        """Pause or resume new sagas in every process in front of the workers (the store's
        switch: each reads it at every start)."""
        assert self._lease is not None
        self.store.set_paused(paused, self._lease.clock())

    async def _drain_cluster(self, timeout_s: float) -> int:
        """Wait up to ``timeout_s`` until no saga is in flight in any worker; how many are."""
        deadline = time.monotonic() + timeout_s
        while True:
            counts = self.store.saga_state_counts()
            left = sum(counts.get(state.value, 0) for state in ACTIVE_STATES)
            if not left or time.monotonic() >= deadline:
                return left
            await asyncio.sleep(min(0.2, max(0.0, deadline - time.monotonic())))

    async def _redrive_through_workers(self, reopen: SagaUpdate, letter: DeadLetter) -> SagaResult:
        """Redrive with workers: reopen the saga and mark its dead letter, in one
        transition; the worker that claims it runs the compensation (the dead letter
        becomes ``redriven``, or parked again). Waits for the saga's end in the store."""
        assert letter.id is not None
        requested = DeadLetterUpdate(letter.id, REDRIVE_REQUESTED, reopen.updated_at)
        await self._committer.apply(SagaTransition(update=reopen, dead_letter_update=requested))
        return await self._wait_stored(reopen.saga_id)

    async def _wait_stored(self, saga_id: str, poll_s: float = 0.1) -> SagaResult:
        """The saga's result once the store says it is terminal (a worker drives it)."""
        while True:
            saga = self.store.get_saga(saga_id)
            if saga is None:
                raise UnknownSagaError(f"no saga {saga_id!r} in the store; check the saga id")
            if SagaState(saga.state).terminal:
                return _result_of(saga)
            await asyncio.sleep(poll_s)
