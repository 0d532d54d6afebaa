"""Serving the example's HTTP API to the tests: the app, a uvicorn server in a thread, and
``serve`` in a subprocess."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI
from order_example import GENERATED
from order_example import SYSTEM_DIR

from sagacrew.runtime import SagaSystem
from sagacrew.runtime.api import create_app

READY = re.compile(r"serving \w+ on (http://127\.0\.0\.1:\d+)/")
"""The line ``serve`` logs once it accepts connections."""


def example_app(system: SagaSystem, token: str | None, **options: Any) -> FastAPI:
    """The API of ``system`` with the example's blueprint and flowcharts, behind the
    operator ``token``; ``options`` (e.g. the body limits) go to ``create_app``."""
    app: FastAPI = create_app(
        system,
        blueprint=GENERATED.blueprint.model_dump(mode="json"),
        flowcharts_dir=SYSTEM_DIR / "flowcharts",
        operator_token=token,
        **options,
    )
    return app


@contextmanager
def uvicorn_thread(app: FastAPI, port: int = 0) -> Iterator[str]:
    """``app`` served by uvicorn from a thread, on a loopback socket bound beforehand
    (``port`` 0: a free one; the same port again serves a restarted process at the same
    address); its base URL once uvicorn accepts connections."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(128)
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="on", log_level="warning")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        while not server.started:  # set by uvicorn once it accepts connections
            thread.join(0.05)
            assert thread.is_alive(), "uvicorn exited before it was ready"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=60)
        sock.close()


def start_serve(
    system_dir: Path, store_url: str, token: str, cwd: Path, startup: list[str] | None = None
) -> tuple[subprocess.Popen[str], str]:
    """``serve`` of ``system_dir`` on a free port in a subprocess (its stderr piped); the
    process and its base URL once it logged that it is ready (the lines it logged until
    then appended to ``startup`` when given). The caller stops it."""
    code = (
        "from pathlib import Path; from sagacrew.runtime.api import serve; "
        f"serve(Path({str(system_dir)!r}), port=0, store_url={store_url!r}, "
        f"operator_token={token!r})"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code], stderr=subprocess.PIPE, text=True, cwd=cwd
    )
    assert process.stderr is not None
    for line in process.stderr:  # waits for the ready line itself, no sleeping
        if startup is not None:
            startup.append(line)
        match = READY.search(line)
        if match:
            return process, match.group(1)
    process.kill()
    process.wait()
    raise AssertionError("serve exited before it was ready")
