"""Ray hosting: a system's workers placed as Ray actors, restarted by Ray where there is room.

``place_workers`` connects to a running Ray cluster and makes sure ``count`` workers of the
system run in it: named, detached Ray actors (``<system>-worker-<i>`` in the namespace
``sagacrew``) created with ``max_restarts=-1`` and spread over the nodes. Each actor hosts
one :func:`~sagacrew.runtime.worker.run_worker` on a thread of its own. Ray restarts an
actor whose process or node died, on any node with room; the new life is a new worker (a
new worker id), and it rebuilds everything from PostgreSQL: it claims sagas whose leases
ran out, the dead life's among them, like any other worker (the same path as recovery after
a crash, fenced by the lease's generation). A worker whose loop fails (PostgreSQL refused
it at start, say) ends its process so that Ray restarts it.

Placing again with another ``count`` adds or stops workers; ``cluster_status`` reports each
worker's counters; ``stop_cluster`` stops them gracefully (their sagas are released to
nobody: a later worker claims them at once). Ray is imported only here and only when one of
these is called: ``pip install 'sagacrew-runtime[ray]'``. Each node must be able to import
the generated system: the folder given is put on ``sys.path`` on the node, so it must exist
there (a shared or synced folder), or the package must be installed on every node.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import threading
from dataclasses import asdict, dataclass
from importlib import import_module
from pathlib import Path
from typing import Any

from sagacrew.runtime.heap import settle_startup_heap
from sagacrew.runtime.loader import LoadedSystem, definition_of
from sagacrew.runtime.system_definition import SystemDefinition
from sagacrew.runtime.worker import WorkerOptions, WorkerReport, check_worker_store, run_worker

logger = logging.getLogger("sagacrew.runtime.cluster")

__all__ = [
    "NAMESPACE",
    "ClusterError",
    "ClusterWorker",
    "WorkerHost",
    "WorkerStatus",
    "cluster_command",
    "cluster_status",
    "place_workers",
    "stop_cluster",
]

NAMESPACE = "sagacrew"
"""The Ray namespace the workers' names live in."""


class ClusterError(Exception):
    """Ray hosting that cannot go on: one line, what is wrong and the fix."""


@dataclass(frozen=True)
class ClusterWorker:
    """What a hosted worker runs: the generated system (its folder and package name), the
    PostgreSQL store the workers share, and the worker's lease settings."""

    root: str
    package: str
    store_url: str
    lease_s: float = 5.0
    poll_s: float = 0.2
    capacity: int = 500

    @classmethod
    def of(cls, loaded: LoadedSystem, store_url: str, **options: Any) -> ClusterWorker:
        check_worker_store(store_url)
        return cls(str(loaded.root.resolve()), loaded.package.__name__, store_url, **options)


@dataclass(frozen=True)
class WorkerStatus:
    """One hosted worker as it reports itself: its Ray name, its worker id in this life,
    where it runs, whether Ray restarted it, and its counters."""

    name: str
    worker_id: str
    node_id: str
    pid: int
    restarted: bool
    running: bool
    report: WorkerReport

    def __str__(self) -> str:
        life = "restarted by Ray" if self.restarted else "first life"
        state = "running" if self.running else "stopped"
        return (
            f"{self.name}: {state} on node {self.node_id[:12]} pid {self.pid} ({life}); "
            f"driving {self.report.driving}, claimed {self.report.claimed}, "
            f"{self.report.leases_lost} leases lost, {self.report.writes_refused} writes refused"
        )


class WorkerHost:
    """The Ray actor: one worker of the system on a thread of its own, from construction
    (every life of the actor) until :meth:`stop`."""

    def __init__(self, name: str, worker: ClusterWorker) -> None:
        import ray

        self.name = name
        context = ray.get_runtime_context()
        self.restarted = bool(context.was_current_actor_reconstructed)
        self.node_id = str(context.get_node_id())
        root = Path(worker.root)
        definition = definition_of(_import(root, worker.package), root)
        self.options = WorkerOptions(
            worker_id=f"{name}-{socket.gethostname()}-{os.getpid()}",
            lease_s=worker.lease_s,
            poll_s=worker.poll_s,
            capacity=worker.capacity,
        )
        self.report = WorkerReport(self.options.worker_id, 0, 0, 0)
        self._loop = asyncio.new_event_loop()
        self._stop = asyncio.Event()
        settle_startup_heap()  # Ray's and the system's modules: left out of full collections
        self._thread = threading.Thread(
            target=self._run, args=(definition, worker.store_url), name=name, daemon=True
        )
        self._thread.start()

    def _run(self, definition: SystemDefinition, store_url: str) -> None:
        def seen(report: WorkerReport) -> None:
            self.report = report

        work = run_worker(definition, store_url, self.options, stop=self._stop, on_poll=seen)
        try:
            self.report = self._loop.run_until_complete(work)
        except Exception:  # the worker cannot go on: end this life, Ray starts the next
            logger.exception("worker %s failed; exiting for Ray to restart it", self.name)
            os._exit(1)

    def status(self) -> WorkerStatus:
        """How this worker is doing now."""
        running = self._thread.is_alive()
        return WorkerStatus(
            self.name, self.options.worker_id, self.node_id, os.getpid(), self.restarted,
            running, self.report,
        )  # fmt: skip

    def stop(self, timeout_s: float = 30.0) -> WorkerStatus:
        """Stop gracefully: release the leases held, then report."""
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(timeout_s)
        return self.status()


def _import(root: Path, package: str) -> Any:
    """The generated package: installed on the node, or from the folder's copy there."""
    with contextlib.suppress(ModuleNotFoundError):
        return import_module(package)
    from sagacrew.runtime.loader import import_package

    return import_package(root, package)


def _ray(address: str) -> Any:
    try:
        import ray
    except ModuleNotFoundError:
        raise ClusterError(
            "Ray is not installed; install it with `pip install 'sagacrew-runtime[ray]'` "
            "(or 'sagacrew[ray]')"
        ) from None
    if not ray.is_initialized():
        _reachable(address)
        try:
            ray.init(address=address, namespace=NAMESPACE, log_to_driver=False)
        except (ConnectionError, ValueError, RuntimeError) as error:
            first = str(error).strip().splitlines()[0] if str(error).strip() else "no answer"
            raise ClusterError(
                f"no Ray cluster at {address!r} ({first}); start one with "
                "`ray start --head` and pass its address (host:port) with --ray"
            ) from None
    return ray


def _reachable(address: str) -> None:
    """Refuse at once a ``host:port`` nobody answers on (Ray itself would retry for
    minutes); ``auto`` and ``ray://`` addresses are left to Ray."""
    host, _, port = address.rpartition(":")
    if address == "auto" or "://" in address or not port.isdigit():
        return
    try:
        socket.create_connection((host or "127.0.0.1", int(port)), timeout=5).close()
    except OSError as error:
        raise ClusterError(
            f"no Ray cluster at {address!r} ({error.strerror or error}); start one with "
            "`ray start --head` and pass its address (host:port) with --ray"
        ) from None


def _names(ray: Any, package: str) -> dict[int, str]:
    prefix = f"{package}-worker-"
    names = [n for n in ray.util.list_named_actors() if str(n).startswith(prefix)]
    return {int(n[len(prefix) :]): n for n in names if n[len(prefix) :].isdigit()}


def place_workers(
    address: str, worker: ClusterWorker, count: int, *, cpus: float = 1.0, wait_s: float = 120
) -> list[WorkerStatus]:
    """Make ``count`` workers of the system run in the Ray cluster at ``address`` (adding
    or stopping workers as needed), wait until each answers, and report them."""
    if count < 1:
        raise ClusterError(f"{count} workers drive nothing; use --workers 1 or more")
    ray = _ray(address)
    host = ray.remote(WorkerHost)
    for index, name in _names(ray, worker.package).items():
        if index >= count:
            _stop(ray, name)
    handles = [
        host.options(
            name=f"{worker.package}-worker-{index}",
            namespace=NAMESPACE,
            lifetime="detached",
            get_if_exists=True,
            max_restarts=-1,
            max_task_retries=-1,
            num_cpus=cpus,
            scheduling_strategy="SPREAD",
        ).remote(f"{worker.package}-worker-{index}", worker)
        for index in range(count)
    ]
    try:
        return list(ray.get([handle.status.remote() for handle in handles], timeout=wait_s))
    except ray.exceptions.GetTimeoutError:
        raise ClusterError(
            f"the workers did not answer within {wait_s:.0f} s; the cluster may lack room "
            f"({cpus} CPU each): add nodes, or ask for fewer with --workers"
        ) from None


def cluster_status(address: str, package: str) -> list[WorkerStatus]:
    """Each hosted worker of ``package`` in the cluster at ``address``, as it reports."""
    ray = _ray(address)
    names = _names(ray, package)
    handles = [ray.get_actor(names[index], namespace=NAMESPACE) for index in sorted(names)]
    return list(ray.get([handle.status.remote() for handle in handles], timeout=60))


def stop_cluster(address: str, package: str) -> list[WorkerStatus]:
    """Stop every hosted worker of ``package`` gracefully, then remove its Ray actor."""
    ray = _ray(address)
    return [_stop(ray, name) for _, name in sorted(_names(ray, package).items())]


def _stop(ray: Any, name: str) -> WorkerStatus:
    handle = ray.get_actor(name, namespace=NAMESPACE)
    status: WorkerStatus = ray.get(handle.stop.remote(), timeout=60)
    ray.kill(handle, no_restart=True)
    logger.info("stopped %s", name, extra={"report": asdict(status.report)})
    return status


def cluster_command(
    loaded: LoadedSystem,
    address: str,
    store_url: str | None,
    *,
    workers: int = 2,
    cpus: float = 1.0,
    status: bool = False,
    stop: bool = False,
    **options: Any,
) -> list[WorkerStatus]:
    """What ``sagacrew cluster`` and ``python -m <system> cluster`` do: report the hosted
    workers (``status``), stop them (``stop``), or place ``workers`` of them on the
    PostgreSQL at ``store_url`` with the worker ``options`` (lease_s, poll_s, capacity)."""
    package = loaded.package.__name__
    if stop or status:
        return (stop_cluster if stop else cluster_status)(address, package)
    if store_url is None:
        raise ClusterError("--store URL is missing: the PostgreSQL the workers share")
    worker = ClusterWorker.of(loaded, store_url, **options)
    return place_workers(address, worker, workers, cpus=cpus)
