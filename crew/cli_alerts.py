"""The ``alerts`` command of ``sagacrew``: the durable alerts of a system's store.

``register(app)`` adds it to the main CLI::

    sagacrew alerts DIR [--store URL] [--pending] [--limit N]

It lists the rows of the store's ``alerts`` table, oldest first, as a table: what
happened (kind, saga, step, error), when, and whether every sink took it (``delivered``,
or ``pending`` with the attempts made and the last delivery error). ``--pending`` shows
only those still to deliver: a running system (``sagacrew serve``) retries them, and
the next start re-delivers them. The store is ``DIR``'s (``DIR/.sagacrew/runtime.db``)
unless ``--store URL`` names another; reading it starts nothing. A user's mistake is one
line on stderr and exit code 2.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console

from sagacrew.crew.cli_ops import StoreUrl, SystemDir, _cell, _open, _ops_errors
from sagacrew.crew.cli_ops_common import _rows_table

out = Console(highlight=False, soft_wrap=True, emoji=False)

LIMIT = 1000
"""Default of ``--limit``."""


def _when(at: float | None) -> str:
    """Seconds since the epoch as ``YYYY-MM-DD HH:MM:SS`` UTC (``-`` for none)."""
    if at is None:
        return "-"
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S")


def alerts_command(
    system_dir: SystemDir,
    store: StoreUrl = None,
    pending: Annotated[
        bool, typer.Option("--pending", help="Only alerts not yet delivered to every sink.")
    ] = False,
    limit: Annotated[int, typer.Option(min=1, help="At most this many, oldest first.")] = LIMIT,
) -> None:
    """List the alerts raised for operators (oldest first) and their delivery."""
    with _ops_errors():
        from sagacrew.runtime import open_store

        _, url = _open(system_dir, store)
        with open_store(url) as opened:
            alerts = opened.list_alerts(delivered=False if pending else None, limit=limit)
        if not alerts:
            out.print(f"no {'pending ' if pending else ''}alerts in {url}", markup=False)
            return
        table = _rows_table(
            f"{len(alerts)} {'pending ' if pending else ''}alert(s)",
            ("id", "kind", "raised (UTC)", "saga", "step", "delivered (UTC)", "attempts", "error"),
        )
        for alert in alerts:
            saga = alert.saga_id or (f"stream {alert.stream_id}" if alert.stream_id else "-")
            delivered = _when(alert.delivered_at) if alert.delivered_at else "pending"
            error = alert.error
            if alert.delivered_at is None and alert.last_delivery_error:
                error += f" [last delivery failed: {alert.last_delivery_error}]"
            table.add_row(
                _cell(alert.id),
                _cell(alert.kind),
                _cell(_when(alert.raised_at)),
                _cell(saga),
                _cell(alert.step_name or "-"),
                _cell(delivered),
                _cell(alert.delivery_attempts),
                _cell(error, 240),
            )
        out.print(table)


def register(app: typer.Typer) -> None:
    """Add ``alerts`` to ``app``; registering twice adds nothing the second time."""
    if any(command.name == "alerts" for command in app.registered_commands):
        return
    app.command("alerts")(alerts_command)
