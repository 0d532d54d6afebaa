"""``serve``: open a generated system, run it and the status API on one event loop."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import os
import signal
import socket
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypedDict, Unpack

import uvicorn
from fastapi import FastAPI
from uvicorn.config import LOGGING_CONFIG

from sagacrew.runtime.alerts import AlertSink, LoggingSink, WebhookSink
from sagacrew.runtime.api._app import create_app
from sagacrew.runtime.api._errors import ServeError
from sagacrew.runtime.api._inputs import DEFAULT_MAX_INPUT_BYTES
from sagacrew.runtime.api._limits import DEFAULT_MAX_BODY_BYTES
from sagacrew.runtime.externals.sandbox import SandboxGateway
from sagacrew.runtime.heap import settle_startup_heap
from sagacrew.runtime.loader import LoadedSystem, load_system
from sagacrew.runtime.metrics import RuntimeMetrics
from sagacrew.runtime.saga import Lease
from sagacrew.runtime.store import open_store
from sagacrew.runtime.system import SagaSystem
from sagacrew.runtime.tracing import TracingError
from sagacrew.runtime.worker import WorkerError, check_worker_store
from sagacrew.runtime.worker_metrics import WorkerCollector

logger = logging.getLogger("sagacrew.runtime.api")

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def default_store_url(system_dir: Path) -> str:
    """The store ``sagacrew run`` uses too: ``DIR/.sagacrew/runtime.db`` (SQLite)."""
    return f"sqlite://{(system_dir / '.sagacrew' / 'runtime.db').resolve()}"


class ServeOptions(TypedDict, total=False):
    """How :func:`serve` and :func:`serve_loaded` serve a system (each one optional).

    ``host`` and ``port`` (default ``127.0.0.1:8000``, this machine only) are where the
    status API and the web page listen. ``operator_token`` (default ``None``: operator
    endpoints disabled) is the bearer token of the operator endpoints.
    ``max_body_bytes`` (default 1 MiB) and ``max_input_bytes`` (default 64 KiB) are the
    request-body and saga-input limits of :func:`create_app`. Alerts go to the log
    (logger ``sagacrew.runtime.alerts``) and, with ``alert_webhook`` (an http(s) URL),
    are POSTed there as JSON; undelivered ones are re-delivered on the next start (see
    :mod:`sagacrew.runtime.alerts`). ``event_secrets`` (``SYSTEM=SECRET`` each, default
    none) are the shared secrets external systems sign their completion events with
    (``POST /api/events``). With ``workers`` (a PostgreSQL store only) this process drives
    no saga: it queues the sagas it starts for the workers (``sagacrew worker``) and hands
    completion events to their owners (see :mod:`sagacrew.runtime.worker`).
    """

    host: str
    port: int
    operator_token: str | None
    max_body_bytes: int
    max_input_bytes: int
    alert_webhook: str | None
    event_secrets: Sequence[str]
    workers: bool


def serve(
    system_dir: Path, *, store_url: str | None = None, **options: Unpack[ServeOptions]
) -> None:
    """Serve the generated system in ``system_dir`` until SIGINT or SIGTERM.

    Opens the folder (``blueprint.json`` and its package), builds the system on
    ``store_url`` (default: :func:`default_store_url`, the store of ``sagacrew run``),
    starts it (resuming sagas left in flight), then serves the status API and the web
    page with uvicorn on the same event loop, as ``options`` say (see
    :class:`ServeOptions`).

    On SIGINT or SIGTERM: stops accepting requests, finishes the ones in progress, stops
    the sagas (they resume on the next start), the actors, and closes the store; then
    returns. Raises :class:`ServeError` when the port cannot be bound or
    ``alert_webhook`` is not an http(s) URL, and
    :class:`~sagacrew.runtime.loader.GeneratedSystemError` when ``system_dir`` is not a
    generated system. Only the runtime is needed: the folder is opened by
    :func:`~sagacrew.runtime.loader.load_system`, not by the crew.
    """
    generated = load_system(system_dir)
    if store_url is None:
        generated.state_dir.mkdir(parents=True, exist_ok=True)
        store_url = default_store_url(system_dir)
    serve_loaded(generated, store_url, **options)


def parse_event_secrets(
    values: Sequence[str], gateways: Sequence[type[SandboxGateway]]
) -> dict[str, str]:
    """``["SYSTEM=SECRET", ...]`` as a mapping (a comma-separated string is split too);
    a one-line :class:`ServeError` for a malformed item or an unknown system."""
    known = sorted(gateway.system for gateway in gateways)
    secrets: dict[str, str] = {}
    for item in (part.strip() for value in values for part in value.split(",")):
        if not item:
            continue
        system, sep, secret = item.partition("=")
        if not sep or not secret:
            raise ServeError(
                f"--event-secret {system!r}: write SYSTEM=SECRET, e.g. payment_gateway=s3cr3t"
            )
        if system not in known:
            raise ServeError(
                f"--event-secret {system}=...: no external system {system!r}; known: {known}"
            )
        secrets[system] = secret
    return secrets


def serve_loaded(
    generated: LoadedSystem,
    store_url: str,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    operator_token: str | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    max_input_bytes: int = DEFAULT_MAX_INPUT_BYTES,
    alert_webhook: str | None = None,
    event_secrets: Sequence[str] = (),
    workers: bool = False,
) -> None:
    """:func:`serve` for a system already opened (its blueprint mapping, its imported
    package, and its ``root``, whose ``flowcharts/`` the page shows) on ``store_url``:
    what ``python -m <system> serve`` calls, installed or from its folder. Options (see
    :class:`ServeOptions`) and errors as :func:`serve`."""
    sinks = _alert_sinks(alert_webhook)
    secrets = parse_event_secrets(event_secrets, generated.definition.gateways)
    sock = _bind(host, port)
    try:
        metrics = RuntimeMetrics()
        if workers:
            try:
                check_worker_store(store_url)
            except WorkerError as error:
                raise ServeError(str(error)) from None
            front = Lease(f"api-{socket.gethostname()}-{os.getpid()}", capacity=0)
            system = generated.definition.build(
                SagaSystem, open_store(store_url), metrics=metrics, alert_sinks=sinks, lease=front
            )
        else:
            system = generated.build_system(store_url, metrics=metrics, alert_sinks=sinks)
        metrics.watch_store(system.store, system.name, _profiles(generated.blueprint))
        if workers:  # per worker and in total, from the store's registry
            metrics.registry.register(WorkerCollector(system.store))
        try:
            app = create_app(
                system,
                blueprint=generated.blueprint,
                flowcharts_dir=generated.root / "flowcharts",
                operator_token=operator_token,
                max_body_bytes=max_body_bytes,
                max_input_bytes=max_input_bytes,
                event_secrets=secrets,
            )
            try:
                asyncio.run(_run(system, app, sock, host))
            except TracingError as error:
                raise ServeError(str(error)) from None
        finally:
            system.store.close()
    finally:
        sock.close()


def _profiles(blueprint: Mapping[str, Any]) -> list[str]:
    """The blueprint's threshold profiles (``dev``, ``prod``), whose validations the
    consistency-score gauge reads."""
    validation = blueprint.get("validation")
    profiles = validation.get("profiles") if isinstance(validation, Mapping) else None
    return sorted(str(name) for name in profiles) if isinstance(profiles, Mapping) else []


def _alert_sinks(webhook: str | None) -> list[AlertSink]:
    """The log always; the webhook when given (a one-line :class:`ServeError` if invalid)."""
    sinks: list[AlertSink] = [LoggingSink()]
    if webhook:
        try:
            sinks.append(WebhookSink(webhook))
        except ValueError as error:
            raise ServeError(f"--alert-webhook: {error}") from None
    return sinks


async def _run(system: SagaSystem, app: FastAPI, sock: socket.socket, host: str) -> None:
    port = int(sock.getsockname()[1])
    # Made first: it configures logging, so what starting the system logs is shown.
    config = uvicorn.Config(app, host=host, port=port, lifespan="on", log_config=_log_config())
    resumed = await system.start()
    if resumed:
        logger.info("resumed %d sagas left in flight", len(resumed))
    settle_startup_heap()
    try:
        server = _Server(config)
        logger.info("serving %s on http://%s:%d/", system.name, host, port)
        await server.serve(sockets=[sock])
    finally:
        await system.stop()


def _log_config() -> dict[str, Any]:
    """uvicorn's logging configuration, plus the ``sagacrew`` loggers at INFO on stderr."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["sagacrew"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config


def _bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: any free port)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as error:
        raise ServeError(f"cannot resolve host {host!r} ({error}); pass --host 127.0.0.1") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(128)
    except OSError as error:
        sock.close()
        raise ServeError(
            f"cannot listen on {host}:{port} ({error.strerror or error}); "
            "pass another --port, or stop the process using it"
        ) from None
    sock.set_inheritable(True)
    return sock


class _Server(uvicorn.Server):
    """uvicorn's server with signal handling that stops cleanly and returns.

    uvicorn re-raises the signal it caught once it has shut down (so SIGTERM would kill
    the process before the saga system stops); here SIGINT/SIGTERM only ask the server to
    exit (a second SIGINT forces it), and ``serve`` then stops the system and returns.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        loop = asyncio.get_running_loop()
        for sig in _STOP_SIGNALS:
            loop.add_signal_handler(sig, self._stop_requested, sig)
        try:
            yield
        finally:
            for sig in _STOP_SIGNALS:
                loop.remove_signal_handler(sig)

    def _stop_requested(self, sig: int) -> None:
        logger.info("received %s; shutting down", signal.Signals(sig).name)
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True
        else:
            self.should_exit = True
