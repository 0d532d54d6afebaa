"""``GET /api/workers``: the workers driving this system's sagas, from the store's registry
(what each reported at its last heartbeat), with totals over the live ones. Empty when no
worker ever ran on this store (one process drives every saga)."""

from __future__ import annotations

import asyncio
import time

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from sagacrew.runtime.api._context import AppContext
from sagacrew.runtime.api._errors import store_unavailable_error
from sagacrew.runtime.api._models import view_of
from sagacrew.runtime.api._progress import iso_utc
from sagacrew.runtime.api._responses import ANY_REQUEST, RUNNING, error_responses
from sagacrew.runtime.store import StoreUnavailable, WorkerRecord


class WorkerView(BaseModel):
    """One worker: ``live`` while it runs and was heard from within its lease; its counters
    since it started (times ISO 8601 in UTC; ``stopped_at`` ``null`` unless it stopped
    gracefully)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    worker_id: str
    live: bool
    lease_s: float
    started_at: str
    seen_at: str
    stopped_at: str | None
    driving: int
    claimed: int
    leases_lost: int
    writes_refused: int


class WorkerList(BaseModel):
    """``GET /api/workers``: every worker the store remembers, and the live ones' totals."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    live: int
    driving: int
    workers: list[WorkerView]


def worker_view(worker: WorkerRecord, now: float) -> WorkerView:
    counts = worker.counts
    return view_of(
        WorkerView,
        worker,
        live=worker.live(now),
        claimed=counts.claimed,
        leases_lost=counts.leases_lost,
        writes_refused=counts.writes_refused,
        started_at=iso_utc(worker.started_at),
        seen_at=iso_utc(worker.seen_at),
        stopped_at=None if worker.stopped_at is None else iso_utc(worker.stopped_at),
        driving=worker.driving(now),
    )


def workers_router(ctx: AppContext) -> APIRouter:
    """``/api/workers`` (open, like the saga list: ids and counts only)."""
    router = APIRouter(prefix="/api", tags=["workers"])

    @router.get(
        "/workers", response_model=WorkerList, responses=error_responses(*ANY_REQUEST, *RUNNING)
    )
    async def workers() -> WorkerList:
        """The workers and what each did (see ``sagacrew worker`` and ``cluster``)."""
        try:
            rows = await asyncio.to_thread(ctx.system.store.workers)
        except StoreUnavailable as exc:
            raise store_unavailable_error(exc) from None
        now = time.time()
        views = [worker_view(row, now) for row in rows]
        return WorkerList(
            live=sum(view.live for view in views),
            driving=sum(view.driving for view in views),  # 0 for a worker not live
            workers=views,
        )

    return router
