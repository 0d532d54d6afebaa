"""``sagacrew cluster``: a system's workers hosted as Ray actors over one PostgreSQL."""

from __future__ import annotations

from typing import Annotated

import typer

from sagacrew.crew.cli_base import EXIT_USER_ERROR, _user_errors, err, out
from sagacrew.crew.cli_ops_common import SystemDir
from sagacrew.crew.cli_worker import LeaseSeconds, PollSeconds


def cluster(
    system_dir: SystemDir,
    ray: Annotated[
        str,
        typer.Option(metavar="ADDRESS", help="The Ray cluster's address (host:port)."),
    ],
    store: Annotated[
        str | None,
        typer.Option(metavar="URL", help="The PostgreSQL store the workers share."),
    ] = None,
    workers: Annotated[int, typer.Option(min=1, help="How many workers to run.")] = 2,
    cpus: Annotated[float, typer.Option(min=0.0, help="CPUs Ray reserves for each worker.")] = 1.0,
    lease_s: LeaseSeconds = 5.0,
    poll_s: PollSeconds = 0.2,
    capacity: Annotated[int, typer.Option(min=1, help="Most sagas one worker drives.")] = 500,
    status: Annotated[
        bool, typer.Option("--status", help="Report the workers; change nothing.")
    ] = False,
    stop: Annotated[bool, typer.Option("--stop", help="Stop every worker gracefully.")] = False,
) -> None:
    """Run the system's workers in a Ray cluster: Ray restarts what dies, where there is room."""
    with _user_errors():
        from sagacrew.runtime.cluster import ClusterError, cluster_command
        from sagacrew.runtime.loader import load_system
        from sagacrew.runtime.worker import WorkerError

        try:
            loaded = load_system(system_dir)
            options = {"lease_s": lease_s, "poll_s": poll_s, "capacity": capacity}
            shown = cluster_command(
                loaded, ray, store, workers=workers, cpus=cpus, status=status, stop=stop,
                **options,
            )  # fmt: skip
            if not shown and (status or stop):
                out.print(f"no workers of {loaded.name} in the Ray cluster at {ray}")
            for one in shown:
                out.print(str(one), markup=False)
        except (ClusterError, WorkerError) as error:
            err.print(f"sagacrew: {error}", markup=False)
            raise typer.Exit(EXIT_USER_ERROR) from None
