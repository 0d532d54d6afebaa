"""``python -m <system>``: a generated system's own command line, on the runtime alone.

``serve`` runs the system with its status and operator API (as ``sagacrew serve``);
``worker`` runs one of several workers over one PostgreSQL (as ``sagacrew worker``).
``blueprint.json`` and ``flowcharts/`` come from ``_system/`` beside the package when it is
installed, else from the folder holding the package. ``SAGACREW_OPERATOR_TOKEN``,
``SAGACREW_ALERT_WEBHOOK`` and ``SAGACREW_EVENT_SECRETS`` (``SYSTEM=SECRET,...``) are read as
``sagacrew serve`` reads them. Only argparse is imported before the arguments are parsed,
so ``--help`` answers at once.
"""

from __future__ import annotations

import argparse
import os
from importlib import import_module
from pathlib import Path
from typing import Any

__all__ = ["system_main"]


def _parser(system: str) -> argparse.ArgumentParser:
    env = os.environ.get
    parser = argparse.ArgumentParser(prog=f"python -m {system}", description=__doc__)
    commands = parser.add_subparsers(title="commands", dest="command", metavar="COMMAND")
    commands.required = True
    serve = commands.add_parser("serve", help="serve the status and operator API").add_argument
    serve("--store", dest="store_url", metavar="URL", required=True, help="postgresql or sqlite")
    serve("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    serve("--port", type=int, default=8000, help="port to listen on (default: %(default)s)")
    serve("--token", dest="operator_token", default=env("SAGACREW_OPERATOR_TOKEN"), metavar="T")
    serve("--workers", action="store_true", help="drive no saga here: queue them for workers")
    worker = commands.add_parser("worker", help="run one worker over PostgreSQL").add_argument
    worker("--store", dest="store_url", metavar="URL", required=True, help="postgresql URL")
    worker("--id", dest="worker_id", help="this worker's id, unique among them (host-pid)")
    worker("--lease-s", type=float, default=5.0, help="lease length (default: %(default)s s)")
    worker("--poll-s", type=float, default=0.2, help="claim every (default: %(default)s s)")
    worker("--capacity", type=int, default=500, help="most sagas at once (%(default)s)")
    cluster = commands.add_parser("cluster", help="host workers as Ray actors").add_argument
    cluster("--ray", dest="address", metavar="ADDRESS", required=True, help="Ray's host:port")
    cluster("--store", dest="store_url", metavar="URL", help="postgresql URL (to place workers)")
    cluster("--workers", type=int, default=2, help="how many workers (default: %(default)s)")
    cluster("--cpus", type=float, default=1.0, help="CPUs per worker (default: %(default)s)")
    cluster("--status", action="store_true", help="report the workers; change nothing")
    cluster("--stop", action="store_true", help="stop every worker gracefully")
    return parser


def system_main(package: str, here: Path, argv: list[str] | None = None) -> None:
    """The command line of the generated ``package`` whose ``__main__.py`` is in ``here``."""
    parser = _parser(package)
    options: dict[str, Any] = vars(parser.parse_args(argv))
    from sagacrew.runtime.api import ServeError, serve_loaded
    from sagacrew.runtime.cluster import ClusterError, cluster_command
    from sagacrew.runtime.loader import GeneratedSystemError, LoadedSystem, read_blueprint
    from sagacrew.runtime.store import StoreError
    from sagacrew.runtime.worker import WorkerError, WorkerOptions, serve_worker

    root = here / "_system" if (here / "_system").is_dir() else here.parent
    command = options.pop("command")
    try:
        loaded = LoadedSystem(root, read_blueprint(root), import_module(package))
        if command == "worker":
            store_url = options.pop("store_url")
            if options["worker_id"] is None:
                del options["worker_id"]
            report = serve_worker(loaded.definition, store_url, WorkerOptions(**options))
            print(report)
            return
        if command == "cluster":
            address, store_url = options.pop("address"), options.pop("store_url")
            for status in cluster_command(loaded, address, store_url, **options):
                print(status)
            return
        env = os.environ.get
        secrets, webhook = [env("SAGACREW_EVENT_SECRETS", "")], env("SAGACREW_ALERT_WEBHOOK")
        serve_loaded(loaded, **options, alert_webhook=webhook, event_secrets=secrets)
    except (ClusterError, GeneratedSystemError, ServeError, StoreError, WorkerError) as error:
        parser.exit(2, f"{parser.prog}: {error}\n")
