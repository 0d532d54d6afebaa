"""Workers: many processes drive one system's sagas over one PostgreSQL store.

``run_worker`` runs one worker: the system's actors and an orchestrator with a
:class:`~sagacrew.runtime.saga.Lease`. Sagas started anywhere (the API, the Python client,
another worker) are rows in the store; every ``poll_s`` the worker claims those in flight
that no live worker holds (``FOR UPDATE SKIP LOCKED``), up to its capacity, and drives
them, each transition written under the lease's fencing token; every ``lease_s / 3`` it
renews its leases, and it delivers the completion events other workers received for its
sagas (the store's inbox). A worker that dies stops renewing: after ``lease_s`` its sagas are
claimed by the others and resumed from the store, the same path as recovery after a
crash. A worker that was paused past its lease (SIGSTOP, a long GC, a partition) finds
its writes refused (:class:`~sagacrew.runtime.store.LeaseLost`) and lets those sagas go.
Aggregates and gateways run in the worker whose saga sends them a command; between
workers, an aggregate's optimistic concurrency and every command's idempotency key keep
each effect single.

SQLite is one process's store: a worker on it is refused with one line.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sagacrew.runtime.heap import settle_startup_heap
from sagacrew.runtime.saga import Lease, SagaOrchestrator
from sagacrew.runtime.store import Store, StoreError, WorkerCounts, WorkerRecord
from sagacrew.runtime.system import SagaSystem
from sagacrew.runtime.system_definition import SystemDefinition

logger = logging.getLogger("sagacrew.runtime.worker")

__all__ = [
    "WorkerError",
    "WorkerOptions",
    "WorkerReport",
    "check_worker_store",
    "run_worker",
    "serve_worker",
]


class WorkerError(Exception):
    """A worker that cannot run: one line, what is wrong and the fix."""


def _default_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


@dataclass(frozen=True)
class WorkerOptions:
    """One worker: its id (unique among the workers), how long its leases last without a
    heartbeat, how often it looks for sagas to claim, and how many it drives at most."""

    worker_id: str = field(default_factory=_default_id)
    lease_s: float = 5.0
    poll_s: float = 0.2
    capacity: int = 500

    def __post_init__(self) -> None:
        if not self.worker_id:
            raise WorkerError("a worker id is empty; give each worker its own id (--id)")
        if not 0 < self.poll_s < self.lease_s:
            raise WorkerError(
                f"poll every {self.poll_s} s with {self.lease_s} s leases cannot keep them; "
                "poll more often than the lease lasts (e.g. --lease-s 5 --poll-s 0.2)"
            )
        if self.capacity < 1:
            raise WorkerError(f"capacity {self.capacity} drives nothing; use 1 or more")


def check_worker_store(store_url: str) -> None:
    """Refuse a store workers cannot share (SQLite belongs to one process)."""
    if not store_url.startswith(("postgresql://", "postgres://")):
        raise WorkerError(
            f"workers share one PostgreSQL store, and {store_url.split('?')[0]!r} is not one; "
            "run several workers with --store postgresql://..., or one process on SQLite "
            "without workers (`serve`, `run`)"
        )


@dataclass(frozen=True)
class WorkerReport:
    """What a worker did: sagas claimed, leases found lost to another worker at a
    heartbeat, and transitions refused by the fencing token (written under a lost
    lease: nothing of them reached the store)."""

    worker_id: str
    claimed: int
    leases_lost: int
    writes_refused: int
    driving: int = 0
    """Sagas it drives at the moment of the report."""

    def __str__(self) -> str:
        return (
            f"worker {self.worker_id}: claimed {self.claimed} sagas; lost {self.leases_lost} "
            f"leases to other workers; {self.writes_refused} writes refused by the fencing token"
        )


async def run_worker(
    definition: SystemDefinition,
    store_url: str,
    options: WorkerOptions | None = None,
    *,
    stop: asyncio.Event | None = None,
    on_poll: Callable[[WorkerReport], None] | None = None,
    **system_options: Any,
) -> WorkerReport:
    """Run one worker of ``definition`` on ``store_url`` until ``stop`` is set (forever
    without it); on a graceful stop its leases are released at once. What it did;
    ``on_poll`` is told the same after every poll (a host's live status)."""
    check_worker_store(store_url)
    options = options or WorkerOptions()
    stop = stop or asyncio.Event()
    lease = Lease(options.worker_id, options.lease_s, options.capacity)
    # A worker paused inside a transaction or a statement (SIGSTOP, a long GC) would hold
    # its row locks, and so its sagas, for as long as it is paused: the server ends such a
    # transaction after the lease, so that the other workers can claim them.
    lease_ms = f"{int(options.lease_s * 1000)}ms"
    timeouts = {"idle_in_transaction_session_timeout": lease_ms, "statement_timeout": lease_ms}
    from sagacrew.runtime.store import PostgresStore  # psycopg: imported by workers only

    store = PostgresStore(store_url, settings=timeouts)
    system = definition.build(SagaSystem, store, lease=lease, **system_options)
    try:
        async with system:
            orchestrator = system.orchestrator
            assert orchestrator is not None
            renew_every = options.lease_s / 3
            renewed = time.monotonic()
            heard = _Registry(store, options, time.time(), store.actors_epoch())
            heard.report(_report(options.worker_id, orchestrator))
            while not stop.is_set():
                try:
                    if time.monotonic() - renewed >= renew_every:
                        orchestrator.renew()
                        renewed = time.monotonic()
                        await heard.follow_restarts(system)
                        heard.report(_report(options.worker_id, orchestrator))
                    await orchestrator.claim()
                    await orchestrator.take_inbox()
                except StoreError as error:  # unreachable, a deadlock: the next poll tries
                    logger.warning("worker %s: %s", options.worker_id, error)
                if on_poll is not None:
                    on_poll(_report(options.worker_id, orchestrator))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), options.poll_s)
            orchestrator.release_all()
            report = _report(options.worker_id, orchestrator)
            heard.report(report, stopped=True)
            return report
    finally:
        system.store.close()


@dataclass
class _Registry:
    """A worker's entry in the store's registry (``saga_workers``), rewritten at every
    heartbeat: what the status API and ``/metrics`` of ``serve --workers`` show per worker,
    and which cluster-wide actor restart (a rollback's restore) it has done."""

    store: Store
    options: WorkerOptions
    started_at: float
    actors_epoch: int

    async def follow_restarts(self, system: SagaSystem) -> None:
        """Restart this worker's actors when a rollback asked every worker to, once it
        drives no saga (the rollback drained them first): each aggregate instance is
        rebuilt from its latest snapshot plus later events, as in one process."""
        asked = self.store.actors_epoch()
        orchestrator = system.orchestrator
        if asked <= self.actors_epoch or orchestrator is None or orchestrator.in_flight:
            return
        from sagacrew.runtime.operations import restart_supervision_tree

        restart = await restart_supervision_tree(system)
        if restart.ok:
            self.actors_epoch = asked
            logger.info("worker %s: actors restarted (epoch %d)", self.options.worker_id, asked)

    def report(self, report: WorkerReport, *, stopped: bool = False) -> None:
        now = time.time()
        counts = WorkerCounts(
            report.claimed, report.leases_lost, report.writes_refused, report.driving
        )
        ended = now if stopped else None
        record = WorkerRecord(
            report.worker_id, self.options.lease_s, self.started_at, now, ended, counts,
            self.actors_epoch,
        )  # fmt: skip
        try:
            self.store.report_worker(record)
        except StoreError as error:  # the next heartbeat tries again
            logger.warning("worker %s: not reported: %s", report.worker_id, error)


def _report(worker_id: str, orchestrator: SagaOrchestrator) -> WorkerReport:
    return WorkerReport(
        worker_id,
        orchestrator.claimed,
        orchestrator.leases_lost,
        orchestrator.writes_refused,
        orchestrator.in_flight,
    )


def serve_worker(
    definition: SystemDefinition, store_url: str, options: WorkerOptions
) -> WorkerReport:
    """Run one worker in this process until SIGTERM or SIGINT (Ctrl-C), then stop
    gracefully: the sagas it drives are released to the other workers at once."""
    check_worker_store(store_url)

    async def main() -> WorkerReport:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        settle_startup_heap()
        return await run_worker(definition, store_url, options, stop=stop)

    return asyncio.run(main())
