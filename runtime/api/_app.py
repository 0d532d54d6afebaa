"""``create_app``: the FastAPI application serving one running saga system."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.staticfiles import StaticFiles

from sagacrew.runtime.api._auth import operator_guard
from sagacrew.runtime.api._context import AppContext
from sagacrew.runtime.api._errors import install_error_handlers
from sagacrew.runtime.api._operations import operations_router
from sagacrew.runtime.api._page import PAGE_CSP, STATIC_DIR, page_router
from sagacrew.runtime.api._sagas import sagas_router
from sagacrew.runtime.system import SagaSystem


def create_app(
    system: SagaSystem,
    *,
    blueprint: Mapping[str, Any],
    flowcharts_dir: Path | None,
    operator_token: str | None,
) -> FastAPI:
    """The status API and web page of ``system``.

    - ``blueprint``: the generated system's ``blueprint.json`` as a mapping (titles, saga
      descriptions and declared inputs, which ``POST /api/sagas/{name}`` checks);
    - ``flowcharts_dir``: the folder of ``<saga>.svg`` flowcharts (``None``: the page
      shows no flowchart and ``/flowchart.svg`` answers 404);
    - ``operator_token``: the bearer token of the operator endpoints; ``None`` or empty
      disables them (403 saying how to set one), so they are never open by default.

    Lifecycle: when ``system`` is not started, the app's lifespan starts it on the
    server's event loop and stops it at shutdown; a system the caller started (on the
    same loop) is left to the caller. Customer-facing endpoints never return saga data,
    step results or errors. Every error is JSON ``{"error": ..., "detail": ...}``.
    """
    context = AppContext(system=system, blueprint=blueprint, flowcharts_dir=flowcharts_dir)
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
    app.include_router(page_router(context))
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.middleware("http")(_security_headers)
    return app


async def _security_headers(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    """nosniff and no referrer everywhere; the page's CSP unless a route set its own."""
    response = await call_next(request)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("Content-Security-Policy", PAGE_CSP)
    return response
