"""Ray hosting: the order example's workers as Ray actors on a local Ray cluster (a head and
two worker nodes on this machine, every address pinned to loopback). A node is killed
mid-run; Ray restarts its worker on the other node, and every saga still ends once: all
completed, no step twice, no command twice, the dead life's sagas claimed again, and the
Consistency Validator's checks pass over the store.
"""

from __future__ import annotations

import os

# Ray resolves a loopback address to the machine's outward one unless clusters are kept on
# this host: the tests' Ray stays on 127.0.0.1 (set before Ray is imported).
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"

import contextlib
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import sagacrew
from order_example import SYSTEM_DIR
from worker_checks import assert_every_saga_completed_once
from worker_checks import assert_validator_passes
from worker_checks import counts
from worker_checks import ended
from worker_checks import submit
from worker_checks import until

from sagacrew.runtime.store import open_store

ray = pytest.importorskip("ray", reason="Ray hosting needs the ray extra: pip install .[ray]")
from ray.cluster_utils import Cluster  # noqa: E402

pytestmark = pytest.mark.postgres

SAGAS = 600
LOOPBACK = "127.0.0.1"
STATUS = re.compile(
    r"(?P<name>\S+): (?P<state>running|stopped) on node (?P<node>\w+) pid (?P<pid>\d+) "
    r"\((?P<life>first life|restarted by Ray)\)"
)


@pytest.fixture
def ray_cluster() -> Iterator[tuple[Cluster, list[Any]]]:
    """A head that runs no worker, and two nodes with room for two workers each."""
    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 0, "node_ip_address": LOOPBACK, "include_dashboard": False},
    )
    nodes = [cluster.add_node(num_cpus=2, node_ip_address=LOOPBACK) for _ in range(2)]
    try:
        yield cluster, nodes
    finally:
        cluster.shutdown()


def workers(address: str, *args: str) -> list[dict[str, str]]:
    """``sagacrew cluster`` with ``args``: each worker it reports."""
    result = sagacrew("cluster", str(SYSTEM_DIR), "--ray", address, *args, timeout=300)
    assert result.returncode == 0, result.stderr + result.stdout
    return [m.groupdict() for m in STATUS.finditer(result.stdout)]


def test_a_killed_ray_node_s_worker_comes_back_elsewhere_and_every_saga_ends_once(
    ray_cluster: tuple[Cluster, list[Any]], postgres_url: str, tmp_path: Path
) -> None:
    cluster, nodes = ray_cluster
    address = cluster.address
    # Each worker holds at most 60 sagas while the client keeps 200 in flight: neither can
    # take a whole wave of starts, so both hold sagas whichever polls first.
    options = ["--lease-s", "2", "--poll-s", "0.1", "--capacity", "60"]
    placed = workers(address, "--store", postgres_url, "--workers", "2", *options)
    assert [w["state"] for w in placed] == ["running", "running"]
    assert {w["life"] for w in placed} == {"first life"}
    assert len({w["node"] for w in placed}) == 2, "the two workers are spread over the nodes"

    store = open_store(postgres_url)
    client = threading.Thread(target=submit, args=(postgres_url, SAGAS, 200))
    client.start()
    victim = placed[0]
    until(lambda: counts(store).get("completed", 0) >= SAGAS // 10, "the workers to start")
    until(lambda: _held_by(store, victim["name"]) > 0, "the first worker to hold sagas")

    doomed = next(n for n in nodes if n.node_id.startswith(victim["node"]))
    cluster.remove_node(doomed, allow_graceful=False)  # the node and its processes die
    with contextlib.suppress(ProcessLookupError):  # (gone with its node already)
        os.kill(int(victim["pid"]), signal.SIGKILL)
    client.join(timeout=300)
    until(lambda: ended(store) == SAGAS, "every saga", 300)

    after = workers(address, "--status")
    assert [w["state"] for w in after] == ["running", "running"]
    reborn = next(w for w in after if w["name"] == victim["name"])
    assert reborn["life"] == "restarted by Ray"
    assert reborn["node"] != victim["node"] and reborn["pid"] != victim["pid"]

    assert_every_saga_completed_once(store, SAGAS)
    assert_validator_passes(postgres_url, tmp_path)

    stopped = workers(address, "--stop")
    assert [w["state"] for w in stopped] == ["stopped", "stopped"]
    assert workers(address, "--status") == []
    assert _held_by(store, reborn["name"]) == 0, "a graceful stop released every lease"
    store.close()


def _held_by(store: Any, name: str) -> int:
    """Sagas in flight whose lease a life of the hosted worker ``name`` holds."""
    rows = store.query(
        "SELECT COUNT(*) FROM saga_leases l JOIN saga_executions s ON s.saga_id = l.saga_id "
        "WHERE l.owner LIKE ? AND s.state IN ('running', 'waiting', 'compensating')",
        (f"{name}-%",),
    )
    return int(rows[0][0])


def test_cluster_mistakes_are_one_line_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    system = str(SYSTEM_DIR)
    sqlite = sagacrew("cluster", system, "--ray", "127.0.0.1:1", "--store", "sqlite:///x.db")
    assert sqlite.returncode == 2 and "workers share one PostgreSQL store" in sqlite.stderr
    nobody = sagacrew("cluster", system, "--ray", f"{LOOPBACK}:1", "--status", timeout=60)
    assert nobody.returncode == 2
    assert nobody.stderr.startswith("sagacrew: no Ray cluster at '127.0.0.1:1'")
    assert nobody.stderr.count("\n") == 1
    unplaced = sagacrew("cluster", system, "--ray", f"{LOOPBACK}:1")
    assert unplaced.returncode == 2 and "--store URL is missing" in unplaced.stderr
    own = subprocess.run(
        [sys.executable, "-m", SYSTEM_DIR.name, "cluster", "--ray", f"{LOOPBACK}:1", "--status"],
        cwd=SYSTEM_DIR,
        capture_output=True,
        text=True,
        check=False,
    )
    assert own.returncode == 2
    assert own.stderr.startswith(f"python -m {SYSTEM_DIR.name}: no Ray cluster at")

    from sagacrew.runtime import cluster

    monkeypatch.setitem(sys.modules, "ray", None)  # as where the ray extra is not installed
    with pytest.raises(cluster.ClusterError, match=r"pip install 'sagacrew-runtime\[ray\]'"):
        cluster.cluster_status(f"{LOOPBACK}:1", "order_fulfilment")
