"""``sagacrew worker``: one of several processes driving a system over one PostgreSQL."""

from __future__ import annotations

from typing import Annotated

import typer

from sagacrew.crew.cli_base import EXIT_USER_ERROR, _user_errors, err, out
from sagacrew.crew.cli_ops_common import SystemDir

LeaseSeconds = Annotated[
    float, typer.Option(min=0.1, help="How long a lease lasts without a heartbeat (seconds).")
]
PollSeconds = Annotated[
    float, typer.Option(min=0.01, help="How often to look for sagas to claim (seconds).")
]


def worker(
    system_dir: SystemDir,
    store: Annotated[
        str,
        typer.Option(metavar="URL", help="The PostgreSQL store every worker shares."),
    ],
    worker_id: Annotated[
        str | None,
        typer.Option("--id", help="This worker's id, unique among them (default: host-pid)."),
    ] = None,
    lease_s: LeaseSeconds = 5.0,
    poll_s: PollSeconds = 0.2,
    capacity: Annotated[int, typer.Option(min=1, help="Most sagas driven at once.")] = 500,
) -> None:
    """Run one worker: claim the system's sagas in flight and drive them (Ctrl-C stops)."""
    with _user_errors():
        from sagacrew.runtime.loader import load_system
        from sagacrew.runtime.worker import (
            WorkerError,
            WorkerOptions,
            check_worker_store,
            serve_worker,
        )

        try:
            check_worker_store(store)
            options = WorkerOptions(
                **({"worker_id": worker_id} if worker_id else {}),
                lease_s=lease_s,
                poll_s=poll_s,
                capacity=capacity,
            )
            loaded = load_system(system_dir)
            out.print(f"worker {options.worker_id} of {loaded.name} on {store.split('@')[-1]}")
            report = serve_worker(loaded.definition, store, options)
            out.print(str(report), markup=False)
        except WorkerError as error:
            err.print(f"sagacrew: {error}", markup=False)
            raise typer.Exit(EXIT_USER_ERROR) from None
