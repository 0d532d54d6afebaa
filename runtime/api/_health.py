"""Liveness and readiness: ``/livez`` (the process serves) and ``/healthz`` = ``/readyz``
(the saga system runs and its store answers now)."""

from __future__ import annotations

import asyncio
import logging
from typing import Final

from fastapi import APIRouter

from sagacrew.runtime.api._context import AppContext
from sagacrew.runtime.api._errors import store_unavailable_error
from sagacrew.runtime.api._models import Health, Liveness
from sagacrew.runtime.api._responses import ANY_REQUEST, RUNNING, error_responses
from sagacrew.runtime.store import StoreError, StoreUnavailable

logger = logging.getLogger("sagacrew.runtime.api")

PING_TIMEOUT_S: Final = 5.0
"""How long readiness waits for the store to answer before reporting it unavailable."""


def health_router(ctx: AppContext) -> APIRouter:
    """``/livez``, ``/healthz`` and ``/readyz``."""
    router = APIRouter(tags=["health"])

    @router.get("/livez", response_model=Liveness, responses=error_responses(*ANY_REQUEST))
    async def livez() -> Liveness:
        """200 while the process serves requests; touches neither the system nor the store
        (restart the process only when this fails)."""
        return Liveness(status="alive")

    async def ready() -> Health:
        orchestrator = ctx.orchestrator()
        store = ctx.system.store
        try:  # in a thread: a ping may block (connecting) and the loop runs the sagas
            await asyncio.wait_for(asyncio.to_thread(store.ping), PING_TIMEOUT_S)
        except StoreUnavailable as exc:
            logger.warning("not ready: %s", exc)
            raise store_unavailable_error(exc) from None
        except (StoreError, TimeoutError) as exc:
            # Not transient by the store's account, or no answer at all: not ready either.
            cause = str(exc) or f"no answer within {PING_TIMEOUT_S:g} s"
            logger.warning("not ready: the store's ping failed: %s", cause)
            raise store_unavailable_error(
                StoreUnavailable(cause, fix="check the database", retry_after_s=5.0)
            ) from None
        return Health(
            status="ok",
            system=ctx.system.name,
            store="available",
            paused=orchestrator.paused,
            in_flight=orchestrator.in_flight,
        )

    readiness = error_responses(*ANY_REQUEST, *RUNNING)

    @router.get("/healthz", response_model=Health, responses=readiness)
    async def healthz() -> Health:
        """Readiness: 200 when the saga system runs and its store answered a ping just now;
        503 with ``Retry-After`` while the system is not started or the store is
        unavailable (take the instance out of rotation; do not restart it)."""
        return await ready()

    @router.get("/readyz", response_model=Health, responses=readiness)
    async def readyz() -> Health:
        """The same as ``/healthz``."""
        return await ready()

    return router
