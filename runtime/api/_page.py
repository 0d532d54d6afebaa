"""The web page (static HTML + vanilla JS, no CDN, no build step), metrics and system info."""

from __future__ import annotations

from pathlib import Path
from string import Template
from typing import Any, Final

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from sagacrew.runtime.api._context import AppContext
from sagacrew.runtime.api._inputs import SagaIdPath
from sagacrew.runtime.api._models import SagaTypeView, SystemView
from sagacrew.runtime.api._responses import ANY_REQUEST, error_responses
from sagacrew.runtime.saga import SagaState

STATIC_DIR: Final = Path(__file__).resolve().parent / "static"
"""``page.html`` (the head and header bar every page shares, with the operator token
form), the ``<main>`` of each page: ``index.html`` (the saga list) and ``saga.html`` (one
saga, live); ``app.js`` (shared: requests, refresh, operator actions), each page's scripts
and ``style.css``."""

PAGE_SCRIPTS: Final = {"index": ("index.js",), "saga": ("flowchart.js", "saga.js")}
"""The scripts each page loads after ``app.js``."""

PAGE_CSP: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)
"""Content-Security-Policy of the pages: only our own script and styles run."""


def page_html(title: str, page: str) -> str:
    """The whole page: the shared ``page.html`` around the ``<main>`` in ``{page}.html``."""
    shell = Template((STATIC_DIR / "page.html").read_text("utf-8"))
    main = (STATIC_DIR / f"{page}.html").read_text("utf-8")
    scripts = "".join(
        f'  <script src="/static/{name}" defer></script>\n' for name in PAGE_SCRIPTS[page]
    )
    return shell.substitute(title=title, page=page, main=main, scripts=scripts)


def page_router(ctx: AppContext) -> APIRouter:
    """``/``, ``/sagas/{saga_id}``, ``/metrics`` and ``/api/system``."""
    router = APIRouter()
    index_html = page_html("Sagas", "index")
    saga_html = page_html("Saga status", "saga")
    headers = {"Content-Security-Policy": PAGE_CSP, "Cache-Control": "no-cache"}

    @router.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def index() -> HTMLResponse:
        return HTMLResponse(index_html, headers=headers)

    @router.get("/sagas/{saga_id}", response_class=HTMLResponse, include_in_schema=False)
    async def saga_page(saga_id: SagaIdPath) -> HTMLResponse:
        # The page reads the id from its URL; an unknown id still gets the page (which
        # says so) but with status 404.
        known = ctx.system.store.get_saga(saga_id) is not None
        return HTMLResponse(saga_html, status_code=200 if known else 404, headers=headers)

    @router.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        """Prometheus text exposition of the system's metrics (404 when it has none)."""
        exported = ctx.system.metrics
        if exported is None:
            return Response(status_code=404, content=b"no metrics: build the system with metrics")
        from sagacrew.runtime.metrics import CONTENT_TYPE

        return Response(content=exported.exposition(), media_type=CONTENT_TYPE)

    @router.get(
        "/api/system",
        response_model=SystemView,
        tags=["sagas"],
        responses=error_responses(*ANY_REQUEST),
    )
    async def system_info() -> SystemView:
        """The system's name, title, saga types and the saga states (for the web page)."""
        blueprint = ctx.blueprint
        types = []
        for name in ctx.saga_names():
            outline = ctx.outline(name)
            entry: Any = ctx.saga_entry(name) or {}
            types.append(
                SagaTypeView(
                    name=name,
                    description=str(entry.get("description", "")),
                    steps=[step.name for step in outline],
                    pivot=next((step.name for step in outline if step.pivot), None),
                )
            )
        return SystemView(
            system=str(blueprint.get("system", ctx.system.name)),
            title=str(blueprint.get("title", ctx.system.name)),
            sagas=types,
            states=[state.value for state in SagaState],
        )

    return router
