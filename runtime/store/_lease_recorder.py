"""Leases: which worker drives which saga, when several worker processes share a store.

A saga in flight is driven by one worker at a time. A worker claims sagas in flight that
have no lease or an expired one (:meth:`LeaseRecorder.claim_sagas`; PostgreSQL's ``FOR
UPDATE SKIP LOCKED`` keeps two workers from claiming the same saga), renews its leases
by heartbeat (:meth:`~LeaseRecorder.renew_leases`) and writes every transition of a
claimed saga with the lease's :class:`~sagacrew.runtime.store.Fence`: each claim bumps
the lease's generation, so a worker that lost its lease (paused, cut off) can never
write that saga again (:class:`~sagacrew.runtime.store.LeaseLost`). A takeover waits for
a transition being written under the old lease, so the new owner reads the saga after
it; recovery after a crash is the same path: the dead worker's leases expire.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, NotRequired, TypedDict, Unpack

from sagacrew.runtime.store._records import InboxEvent, WorkerRecord


class Claim(TypedDict):
    """What :meth:`LeaseRecorder.claim_sagas` claims: up to ``limit`` sagas in ``states``
    (oldest first) whose lease is missing or expired at ``now``, for ``lease_s`` seconds;
    with ``versions``, only sagas whose ``definition_version`` is one of them."""

    states: Sequence[str]
    limit: int
    lease_s: float
    now: float
    versions: NotRequired[Sequence[str] | None]


class LeaseRecorder(ABC):
    """The ``saga_leases`` table (see the module)."""

    @abstractmethod
    def claim_sagas(self, owner: str, **claim: Unpack[Claim]) -> dict[str, int]:
        """Claim sagas for ``owner`` (see :class:`Claim`); their ids and generations."""

    @abstractmethod
    def renew_leases(self, owner: str, *, until: float) -> dict[str, int]:
        """Extend every lease ``owner`` still holds to ``until``; the saga ids and
        generations it holds (a saga missing from it was claimed by another worker)."""

    @abstractmethod
    def release_lease(self, owner: str, saga_id: str) -> None:
        """Give up ``owner``'s lease on ``saga_id`` (the saga ended, or the worker stops):
        the lease expires at once; its generation stays, so its fence never matches again."""

    @abstractmethod
    def post_to_inbox(
        self, correlation_id: str, event_name: str, payload: Mapping[str, Any], now: float
    ) -> None:
        """Keep a completion event for the worker that drives its saga (another one got it)."""

    @abstractmethod
    def inbox_of(self, owner: str) -> list[InboxEvent]:
        """The waiting completion events of the sagas ``owner`` holds, oldest first."""

    @abstractmethod
    def remove_from_inbox(self, ids: Sequence[int]) -> None:
        """Remove delivered completion events."""

    @abstractmethod
    def report_worker(self, report: WorkerRecord) -> None:
        """Record what a worker reports at each heartbeat (and when it stops)."""

    @abstractmethod
    def workers(self) -> list[WorkerRecord]:
        """What every worker last reported, live or not, by worker id."""

    @abstractmethod
    def set_paused(self, paused: bool, now: float) -> None:
        """Pause (refuse new sagas) or resume every process in front of the workers."""

    @abstractmethod
    def cluster_paused(self) -> bool:
        """True while new sagas are paused for the whole cluster."""

    @abstractmethod
    def request_actor_restart(self, now: float) -> int:
        """Ask every worker to restart its actors (each rebuilds its aggregates from their
        snapshots and events, when it drives no saga): the new epoch to wait for."""

    @abstractmethod
    def actors_epoch(self) -> int:
        """How many cluster-wide actor restarts were asked for."""
