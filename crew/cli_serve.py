"""``sagacrew serve``: the generated system with its status API and live page."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sagacrew.crew.cli_base import EXIT_USER_ERROR, _user_errors, err, out


def serve(
    system_dir: Annotated[Path, typer.Argument(help="A folder written by `generate`.")],
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    store: Annotated[
        str | None, typer.Option(help="Store URL (default: the one `sagacrew run` uses).")
    ] = None,
    operator_token: Annotated[
        str | None,
        typer.Option(
            envvar="SAGACREW_OPERATOR_TOKEN",
            help="Bearer token for operator endpoints (or SAGACREW_OPERATOR_TOKEN).",
        ),
    ] = None,
    max_body_bytes: Annotated[
        int,
        typer.Option(
            min=1,
            envvar="SAGACREW_MAX_BODY_BYTES",
            help="Largest request body; larger ones get 413 before they are read "
            "(or SAGACREW_MAX_BODY_BYTES).",
        ),
    ] = 1 << 20,
    max_input_bytes: Annotated[
        int,
        typer.Option(
            min=1,
            envvar="SAGACREW_MAX_INPUT_BYTES",
            help="Largest saga input (compact JSON) a start accepts (or SAGACREW_MAX_INPUT_BYTES).",
        ),
    ] = 64 * 1024,
    alert_webhook: Annotated[
        str | None,
        typer.Option(
            envvar="SAGACREW_ALERT_WEBHOOK",
            metavar="URL",
            help="POST each alert as JSON to this http(s) URL, besides the log "
            "(or SAGACREW_ALERT_WEBHOOK).",
        ),
    ] = None,
    event_secret: Annotated[
        list[str] | None,
        typer.Option(
            envvar="SAGACREW_EVENT_SECRETS",
            metavar="SYSTEM=SECRET",
            help="Shared secret an external system signs its completion events with "
            "(POST /api/events, header X-Sagacrew-Signature); repeat per system "
            "(or SAGACREW_EVENT_SECRETS, comma-separated).",
        ),
    ] = None,
    workers: Annotated[
        bool,
        typer.Option(
            "--workers",
            help="Drive no saga here: queue the sagas started through the API for the "
            "workers (`sagacrew worker`, PostgreSQL only).",
        ),
    ] = False,
) -> None:
    """Run the system with its status API and live flowchart page (FastAPI + uvicorn)."""
    with _user_errors():
        from sagacrew.runtime.api import serve as run_server
        from sagacrew.runtime.worker import WorkerError, check_worker_store

        if workers:
            try:
                check_worker_store(store or "sqlite (the default store)")
            except WorkerError as error:
                err.print(f"sagacrew: {error}", markup=False)
                raise typer.Exit(EXIT_USER_ERROR) from None
        out.print(f"serving {system_dir} on http://{host}:{port}/ (Ctrl-C stops)", markup=False)
        run_server(
            system_dir,
            host=host,
            port=port,
            store_url=store,
            operator_token=operator_token,
            max_body_bytes=max_body_bytes,
            max_input_bytes=max_input_bytes,
            alert_webhook=alert_webhook,
            event_secrets=event_secret or [],
            workers=workers,
        )
