"""``create_app``: the FastAPI application serving one running saga system."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from sagacrew.runtime.api._alerts import alerts_router
from sagacrew.runtime.api._auth import operator_guard
from sagacrew.runtime.api._context import AppContext
from sagacrew.runtime.api._errors import install_error_handlers
from sagacrew.runtime.api._events import events_router
from sagacrew.runtime.api._headers import SecurityHeaders
from sagacrew.runtime.api._health import health_router
from sagacrew.runtime.api._inputs import DEFAULT_MAX_INPUT_BYTES
from sagacrew.runtime.api._limits import DEFAULT_MAX_BODY_BYTES, RequestGuard
from sagacrew.runtime.api._operations import operations_router
from sagacrew.runtime.api._page import PAGE_CSP, STATIC_DIR, page_router
from sagacrew.runtime.api._sagas import sagas_router
from sagacrew.runtime.api._workers import workers_router
from sagacrew.runtime.system import SagaSystem


def create_app(
    system: SagaSystem,
    *,
    blueprint: Mapping[str, Any],
    flowcharts_dir: Path | None,
    operator_token: str | None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    max_input_bytes: int = DEFAULT_MAX_INPUT_BYTES,
    event_secrets: Mapping[str, str] | None = None,
) -> FastAPI:
    """The status API and web page of ``system``.

    - ``blueprint``: the generated system's ``blueprint.json`` as a mapping (titles, saga
      descriptions and declared inputs, which ``POST /api/sagas/{name}`` checks);
    - ``flowcharts_dir``: the folder of ``<saga>.svg`` flowcharts (``None``: the page
      shows no flowchart and ``/flowchart.svg`` answers 404);
    - ``operator_token``: the bearer token of the operator endpoints; ``None`` or empty
      disables them (403 saying how to set one), so they are never open by default;
    - ``max_body_bytes`` (default 1 MiB): larger request bodies are refused with 413
      before they are read (see ``_limits``); operator routes check the token first;
    - ``max_input_bytes`` (default 64 KiB): the largest saga input (compact JSON) a
      start accepts (413 above);
    - ``event_secrets``: external system → the shared secret its completion events are
      signed with (``POST /api/events``, see ``_events``); without one, only the operator
      token admits an event.

    Lifecycle: when ``system`` is not started, the app's lifespan starts it on the
    server's event loop and stops it at shutdown; a system the caller started (on the
    same loop) is left to the caller. Customer-facing endpoints never return saga data,
    step results or errors. Every error is JSON ``{"error": ..., "detail": ...}``; a store
    outage is 503 with ``Retry-After``. Raises ``ValueError`` for a limit below 1.
    """
    for name, limit in (("max_body_bytes", max_body_bytes), ("max_input_bytes", max_input_bytes)):
        if limit < 1:
            raise ValueError(f"{name} must be at least 1 byte, not {limit}; pass e.g. 1048576")
    context = AppContext(
        system=system,
        blueprint=blueprint,
        flowcharts_dir=flowcharts_dir,
        max_input_bytes=max_input_bytes,
    )
    operator = operator_guard(operator_token)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = system.orchestrator is None
        if owned:
            await system.start()
        try:
            yield
        finally:
            if owned:
                await system.stop()

    app = FastAPI(
        title=f"sagacrew: {blueprint.get('title', system.name)}",
        summary="Saga status, operator endpoints and the live flowchart page.",
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.include_router(sagas_router(context, operator))
    app.include_router(operations_router(context, operator))
    app.include_router(alerts_router(context, operator))
    app.include_router(events_router(context, operator, event_secrets or {}))
    app.include_router(health_router(context))
    app.include_router(workers_router(context))
    app.include_router(page_router(context))
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    # The last added runs first: security headers on every response, including refusals.
    app.add_middleware(
        RequestGuard, routes=app.routes, guard=operator, max_body_bytes=max_body_bytes
    )
    app.add_middleware(SecurityHeaders, csp=PAGE_CSP)
    return app
