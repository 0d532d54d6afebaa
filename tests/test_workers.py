"""Workers: three processes drive the order example's sagas over one PostgreSQL, while one
is killed with SIGKILL and another frozen with SIGSTOP past its lease, then resumed.

Every saga ends terminal, no step succeeds twice and no command acts twice (the step log
and the processed commands prove it), the frozen worker's late writes are refused by its
fencing token, and the Consistency Validator's checks pass over the store.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cli_helpers import sagacrew
from order_example import SYSTEM_DIR
from worker_checks import DEFINITION
from worker_checks import assert_every_saga_completed_once
from worker_checks import assert_validator_passes
from worker_checks import counts
from worker_checks import ended
from worker_checks import held
from worker_checks import submit
from worker_checks import until

from sagacrew.runtime.store import open_store
from sagacrew.runtime.worker import WorkerError
from sagacrew.runtime.worker import WorkerOptions
from sagacrew.runtime.worker import check_worker_store

pytestmark = pytest.mark.postgres

SAGAS = 2000
LEASE_S = 2.0
CAPACITY = 100
"""Sagas a worker holds at most: three hold less than the client keeps in flight (400), so
none can take every start of a wave and each holds sagas whichever polls first."""


def worker(store_url: str, name: str, log: Path) -> subprocess.Popen[bytes]:
    """``sagacrew worker`` in a process of its own, its output in ``log``."""
    command = [sys.executable, "-m", "sagacrew.crew.cli", "worker", str(SYSTEM_DIR)]
    options = ["--store", store_url, "--id", name, "--lease-s", str(LEASE_S), "--poll-s", "0.1"]
    quiet = {"CREWAI_DISABLE_TELEMETRY": "true", "OTEL_SDK_DISABLED": "true"}
    with log.open("wb") as out:
        return subprocess.Popen(
            [*command, *options, "--capacity", str(CAPACITY)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **quiet},
        )


@pytest.fixture
def workers(postgres_url: str, tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGCONT)
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def test_three_workers_finish_every_saga_once_through_a_kill_and_a_freeze(
    postgres_url: str, tmp_path: Path, workers: list[subprocess.Popen[bytes]]
) -> None:
    store = open_store(postgres_url)
    logs = [tmp_path / f"w{i}.log" for i in range(3)]
    workers += [worker(postgres_url, f"w{i}", logs[i]) for i in range(3)]
    client = threading.Thread(target=submit, args=(postgres_url, SAGAS))
    client.start()
    until(lambda: counts(store).get("completed", 0) >= SAGAS // 10, "the workers to start")

    until(lambda: held(store, "w0") > 0 and held(store, "w1") > 0, "w0 and w1 to hold sagas")
    os.kill(workers[0].pid, signal.SIGKILL)  # w0 dies with its sagas in flight
    os.kill(workers[1].pid, signal.SIGSTOP)  # w1 freezes past its lease...
    frozen_with = held(store, "w1")
    time.sleep(LEASE_S * 1.5)
    # (a saga whose row the frozen worker's open statement still locks waits for it)
    until(lambda: held(store, "w1") < frozen_with, "w2 to take over the frozen worker's sagas")
    os.kill(workers[1].pid, signal.SIGCONT)  # ...and comes back to find sagas taken
    client.join(timeout=300)
    until(lambda: ended(store) == SAGAS, "every saga")

    assert workers[0].wait(timeout=5) == -signal.SIGKILL
    for process in workers[1:]:
        process.terminate()
        assert process.wait(timeout=30) == 0
    assert_every_saga_completed_once(store, SAGAS)
    frozen = logs[1].read_text("utf-8")
    refused = re.search(r"lost (\d+) leases to other workers; (\d+) writes refused", frozen)
    assert refused is not None, frozen[-2000:]
    assert int(refused[1]) + int(refused[2]) > 0, "the frozen worker's sagas were taken from it"
    store.close()
    assert_validator_passes(postgres_url, tmp_path)


def test_a_worker_on_sqlite_is_one_line_and_refused(tmp_path: Path) -> None:
    with pytest.raises(WorkerError, match="workers share one PostgreSQL store"):
        check_worker_store(f"sqlite:///{tmp_path / 'state.db'}")
    result = sagacrew("worker", str(SYSTEM_DIR), "--store", f"sqlite:///{tmp_path / 'x.db'}")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "PostgreSQL" in result.stderr
    with pytest.raises(WorkerError, match="poll more often"):
        WorkerOptions(lease_s=1.0, poll_s=2.0)
    own = subprocess.run(
        [sys.executable, "-m", SYSTEM_DIR.name, "worker", "--store", "sqlite:///x.db"],
        cwd=SYSTEM_DIR,
        capture_output=True,
        text=True,
        check=False,
    )
    assert own.returncode == 2, own.stderr
    assert own.stderr.startswith(f"python -m {SYSTEM_DIR.name}: workers share one PostgreSQL")
    assert own.stderr.count("\n") == 1


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_sagas_started_through_the_api_of_serve_with_workers_are_driven_by_a_worker(
    postgres_url: str, tmp_path: Path, workers: list[subprocess.Popen[bytes]]
) -> None:
    port = free_port()
    command = [sys.executable, "-m", "sagacrew.crew.cli", "serve", str(SYSTEM_DIR)]
    options = ["--store", postgres_url, "--port", str(port), "--operator-token", "op"]
    with (tmp_path / "serve.log").open("wb") as out:
        workers.append(subprocess.Popen([*command, *options, "--workers"], stdout=out, stderr=out))
    base = f"http://127.0.0.1:{port}"
    until(lambda: _answers(f"{base}/api/sagas"), "the API to answer", 60)
    started = []
    for i in range(5):
        response = httpx.post(
            f"{base}/api/sagas/create_order",
            json=DEFINITION.sample_inputs("create_order", i, "api"),
            headers={"Authorization": "Bearer op"},
        )
        assert response.status_code == 202, response.text
        started.append(response.json()["saga_id"])
    time.sleep(1.0)

    def states() -> set[str]:
        return {
            httpx.get(f"{base}/api/sagas/{saga_id}/status").json()["state"] for saga_id in started
        }

    assert states() == {"running"}, "queued: the API process drives no saga"
    workers.append(worker(postgres_url, "w1", tmp_path / "w1.log"))
    until(lambda: states() == {"completed"}, "the worker to finish the API's sagas", 60)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
