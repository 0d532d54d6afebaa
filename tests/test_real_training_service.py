"""The ML example against a real external service: its gateway calls a training cluster
over HTTP (tests/training_service.py, on loopback) and the jobs complete only by the
cluster's signed webhook to ``POST /api/events`` of the served saga API.

The gateway's ``perform`` does the external work only; the ledger (``external_calls``) is
kept by the runtime: a cancel that the cluster carried out marks the dispatch
``cancelled``, an undo of work that finished anyway marks it ``undone``.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from typing import ClassVar

import httpx
import pytest
from cli_helpers import sagacrew
from http_helpers import uvicorn_thread
from ml_example import ML
from ml_example import SYSTEM_DIR
from ml_example import with_cluster
from training_service import TrainingService

from sagacrew.runtime import Envelope
from sagacrew.runtime import GatewayOperation
from sagacrew.runtime import GatewayRefusal
from sagacrew.runtime import SystemDefinition
from sagacrew.runtime.api import create_app
from sagacrew.runtime.externals import GatewayError

SECRET = "cluster-secret"
TOKEN = "op"


class TrainingClusterGateway(ML.gateways.TrainingClusterGatewayBase):  # type: ignore[misc, name-defined]
    """The real client of the training cluster (what a user writes in business_rules.py).

    - ``dispatch_training`` POSTs ``/jobs`` with the saga step's idempotency key as the
      ``Idempotency-Key`` header (a retried dispatch starts no second job) and answers the
      job id as ``resource_id``, ``running``: the cluster's webhook completes it;
    - ``cancel_training`` DELETEs ``/jobs/{resource_id}``, the job the dispatch returned
      (the runtime puts it in the payload when the saga never saw the dispatch's reply);
      the runtime then records the dispatch ``cancelled`` or ``undone`` in the ledger.
      When the dispatch's own reply never came (a read timeout: the runtime has it
      ``unknown``, and the payload's ``resource_id`` is empty), it DELETEs
      ``/jobs/by-key/{undoes}``: the cluster cancels whatever job that key started, or
      makes sure none will start.

    Timeouts, connection errors and 5xx raise ``httpx`` errors: transient, the saga step
    retries (with the same idempotency key, so the cluster answers the same job). A 4xx
    the cluster means (bad request, quota) is a refusal (:class:`GatewayRefusal`): the
    saga compensates without retrying.
    """

    base_url: ClassVar[str]
    timeout: ClassVar[httpx.Timeout] = httpx.Timeout(5.0, connect=2.0)

    async def perform(
        self, name: str, operation: GatewayOperation, message: Envelope
    ) -> dict[str, Any]:
        async with httpx.AsyncClient(base_url=self.base_url, timeout=self.timeout) as client:
            if name == "dispatch_training":
                body = {key: message.payload[key] for key in ("run_id", "model_name", "gpus")}
                key = message.idempotency_key or message.message_id
                response = await client.post("/jobs", json=body, headers={"Idempotency-Key": key})
                job = _answer(response)
                return {"resource_id": str(job["job_id"]), "status": str(job["status"])}
            if name == "cancel_training":
                job_id = str(message.payload["resource_id"])
                path = f"/jobs/{job_id}" if job_id else f"/jobs/by-key/{message.payload['undoes']}"
                response = await client.delete(path)
                if response.status_code == 404:
                    return {"resource_id": job_id or "none", "status": "gone"}
                job = _answer(response)
                return {"resource_id": str(job["job_id"]), "status": str(job["status"])}
        raise GatewayError(f"training_cluster has no operation {name!r}")


def _answer(response: httpx.Response) -> dict[str, Any]:
    """The JSON of a 2xx answer; a 4xx is the cluster saying no, anything else transient."""
    if 400 <= response.status_code < 500 and response.status_code not in (408, 429):
        raise GatewayRefusal(f"{response.status_code} {response.text}")
    response.raise_for_status()
    answer: dict[str, Any] = response.json()
    return answer


def definition(
    base_url: str, timeout_s: float | None = None, read_timeout_s: float = 5.0
) -> SystemDefinition:
    """The ML example with the real gateway to ``base_url`` (and, given ``timeout_s``, that
    timeout on ``dispatch_training``), waiting ``read_timeout_s`` for an answer."""
    timeout = httpx.Timeout(read_timeout_s, connect=2.0)
    gateway = type("Cluster", (TrainingClusterGateway,), {"base_url": base_url, "timeout": timeout})
    return with_cluster(gateway, timeout_s)


@dataclasses.dataclass
class Served:
    """A saga process: the system and its API served over HTTP."""

    url: str
    build: SystemDefinition
    ledger: Callable[[], list[tuple[str, str]]]
    calls: Callable[[], list[Any]]

    def start(self, index: int) -> str:
        data = self.build.sample_inputs("train_model", index)
        response = httpx.post(
            f"{self.url}/api/sagas/train_model",
            json=data,
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=10,
        )
        assert response.status_code == 202, response.text
        return str(response.json()["saga_id"])

    def state(self, saga_id: str) -> str:
        response = httpx.get(f"{self.url}/api/sagas/{saga_id}/status", timeout=10)
        return str(response.json()["state"])

    def wait_for(self, saga_id: str, *states: str) -> str:
        until(lambda: self.state(saga_id) in states, f"saga {saga_id} in {states}")
        return self.state(saga_id)


def until(condition: Callable[[], bool], what: str, seconds: float = 20) -> None:
    """Poll ``condition`` until it holds (a deadline only guards against a hang)."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"waited {seconds} s for {what}"
        time.sleep(0.02)


@contextmanager
def saga_process(store_url: str, build: SystemDefinition, port: int = 0) -> Iterator[Served]:
    """A saga process on ``store_url`` serving its API (with the cluster's event secret)
    at ``127.0.0.1:port``; stopped (and its store closed) on exit."""
    system = build(store_url)
    app = create_app(
        system,
        blueprint=json.loads((SYSTEM_DIR / "blueprint.json").read_text("utf-8")),
        flowcharts_dir=None,
        operator_token=TOKEN,
        event_secrets={"training_cluster": SECRET},
    )

    def ledger() -> list[tuple[str, str]]:
        calls = system.store.list_external_calls(system="training_cluster")
        return [(c.operation, c.status) for c in calls]

    def calls() -> list[Any]:
        return list(system.store.list_external_calls(system="training_cluster"))

    try:
        with uvicorn_thread(app, port) as url:
            yield Served(url, build, ledger, calls)
    finally:
        system.store.close()


@pytest.fixture
def cluster() -> Iterator[tuple[TrainingService, str]]:
    service = TrainingService(SECRET)
    with uvicorn_thread(service.app) as url:
        yield service, url


def run_id(build: SystemDefinition, index: int) -> str:
    return str(build.sample_inputs("train_model", index)["run_id"])


def test_the_service_answers_the_same_job_for_the_same_idempotency_key(
    cluster: tuple[TrainingService, str],
) -> None:
    service, url = cluster
    service.plan("r-1", duration_s=60)
    job = {"run_id": "r-1", "model_name": "m", "gpus": 2}
    first = httpx.post(f"{url}/jobs", json=job, headers={"Idempotency-Key": "k-1"})
    again = httpx.post(f"{url}/jobs", json=job, headers={"Idempotency-Key": "k-1"})
    assert first.json() == again.json() == {"job_id": "job-1", "status": "running"}
    other = httpx.post(f"{url}/jobs", json=job, headers={"Idempotency-Key": "k-2"})
    assert other.json()["job_id"] == "job-2"
    cancelled = httpx.delete(f"{url}/jobs/job-2")
    assert cancelled.json() == {"job_id": "job-2", "status": "cancelled"}
    assert httpx.delete(f"{url}/jobs/job-9").status_code == 404


def test_a_job_dispatched_over_http_completes_by_the_clusters_webhook(
    cluster: tuple[TrainingService, str], sqlite_url: str
) -> None:
    service, base_url = cluster
    build = definition(base_url)
    with saga_process(sqlite_url, build) as saga:
        service.webhook_url = f"{saga.url}/api/events"
        saga_id = saga.start(0)
        assert saga.wait_for(saga_id, "completed", "compensated") == "completed"
        job = service.job_of(run_id(build, 0))
        assert job.status == "completed"
        assert service.attempts_of(job.job_id) == [202]
        assert saga.ledger() == [("dispatch_training", "completed")]
        [call] = saga.calls()
        assert call.resource_id == job.job_id
        assert call.response["event_id"] == f"{job.job_id}:completed"
        assert service.by_key == {call.idempotency_key: job.job_id}


def test_a_job_past_the_steps_timeout_is_cancelled_and_late_work_is_undone_once(
    cluster: tuple[TrainingService, str], sqlite_url: str
) -> None:
    service, base_url = cluster
    build = definition(base_url, timeout_s=0.3)
    with saga_process(sqlite_url, build) as saga:
        service.webhook_url = f"{saga.url}/api/events"

        # A job the cluster cancels: the compensation's DELETE stops it, it never reports.
        service.plan(run_id(build, 0), duration_s=60)
        first = saga.start(0)
        assert saga.wait_for(first, "compensated", "completed") == "compensated"
        job = service.job_of(run_id(build, 0))
        assert (job.status, job.cancels) == ("cancelled", 1)
        assert saga.ledger() == [
            ("dispatch_training", "cancelled"),
            ("cancel_training", "cancelled"),
        ], "the runtime recorded the cancel the real gateway made"

        # A job that finishes anyway: its completion arrives after the saga compensated.
        service.pause_webhooks()
        service.plan(run_id(build, 1), duration_s=0.5, ignores_cancel=True)
        second = saga.start(1)
        assert saga.wait_for(second, "compensated", "completed") == "compensated"
        late = service.job_of(run_id(build, 1))
        mine = [c for c in saga.calls() if c.resource_id == late.job_id]
        assert [(c.operation, c.status) for c in mine] == [
            ("dispatch_training", "cancelled"),
            ("cancel_training", "cancelled"),
        ]
        service.resume_webhooks()
        until(lambda: 202 in service.attempts_of(late.job_id), "the late completion delivered")

        def undone() -> list[tuple[str, str]]:
            calls = [c for c in saga.calls() if c.resource_id == late.job_id]
            return [(c.operation, c.status) for c in calls]

        until(lambda: ("dispatch_training", "undone") in undone(), "the late work undone")
        assert sorted(undone()) == [
            ("cancel_training", "cancelled"),
            ("cancel_training", "undone"),
            ("dispatch_training", "undone"),
        ], "the cancel, then exactly one undo of the late work"
        assert late.cancels == 2, "the undo asked the cluster too"
        assert service.send_completion_now(late.job_id) == 409, "a replay is refused"
        assert late.cancels == 2
        assert len(undone()) == 3
        assert saga.state(second) == "compensated"


def test_a_saga_process_restarted_while_the_job_runs_gets_the_retried_webhook(
    cluster: tuple[TrainingService, str], sqlite_url: str
) -> None:
    service, base_url = cluster
    build = definition(base_url)
    service.pause_webhooks()  # the job's completion waits until the process is down
    with saga_process(sqlite_url, build) as saga:
        service.webhook_url = f"{saga.url}/api/events"
        port = int(saga.url.rsplit(":", 1)[1])
        saga_id = saga.start(0)
        assert saga.wait_for(saga_id, "waiting") == "waiting"
        job = service.job_of(run_id(build, 0))
    # The saga process is down: the finished job's webhook fails, and is retried.
    service.resume_webhooks()
    until(lambda: len(service.attempts_of(job.job_id)) >= 2, "failed webhook deliveries")
    assert job.status == "completed"
    assert all(isinstance(outcome, str) for outcome in service.attempts_of(job.job_id))

    with saga_process(sqlite_url, build, port) as restarted:
        assert restarted.wait_for(saga_id, "completed", "compensated") == "completed"
        assert service.attempts_of(job.job_id)[-1] == 202
        assert restarted.ledger() == [("dispatch_training", "completed")]
        assert len(service.jobs) == 1, "the resumed saga started no second job"


@pytest.mark.parametrize(
    ("slow_replies", "duration_s", "ends", "job_ends", "posts", "ledger"),
    [
        pytest.param(
            1,
            0.05,
            "completed",
            ("completed", 0),
            2,  # the first reply was lost, then the step retried with the same key
            [("dispatch_training", "completed")],
            id="a_lost_reply_is_retried_with_its_key",
        ),
        pytest.param(
            99,
            60,
            "compensated",
            ("cancelled", 1),  # the undo asked the cluster by key
            4,  # every attempt the step's retry policy allows
            [("dispatch_training", "cancelled"), ("cancel_training", "cancelled")],
            id="replies_that_never_came_are_cancelled_by_their_key_when_the_saga_gives_up",
        ),
    ],
)
def test_a_dispatch_whose_replies_timed_out_starts_one_job_and_the_ledger_records_it(
    cluster: tuple[TrainingService, str],
    sqlite_url: str,
    slow_replies: int,
    duration_s: float,
    ends: str,
    job_ends: tuple[str, int],
    posts: int,
    ledger: list[tuple[str, str]],
) -> None:
    """The cluster answers the first ``slow_replies`` ``POST /jobs`` after the gateway gave
    up waiting: every attempt carries the step's key, so one job starts, and the ledger
    records it although the dispatch's reply was lost (status and cancels: ``job_ends``)."""
    service, base_url = cluster
    build = definition(base_url, read_timeout_s=0.2)
    service.plan(
        run_id(build, 0), duration_s=duration_s, slow_replies=slow_replies, reply_delay_s=0.6
    )
    with saga_process(sqlite_url, build) as saga:
        service.webhook_url = f"{saga.url}/api/events"
        saga_id = saga.start(0)
        assert saga.wait_for(saga_id, "completed", "compensated") == ends
        assert service.posts_of(run_id(build, 0)) == posts
        job = service.job_of(run_id(build, 0))
        assert len(service.jobs) == 1
        assert (job.status, job.cancels) == job_ends
        assert [(c.operation, c.status, c.resource_id) for c in saga.calls()] == [
            (operation, status, job.job_id) for operation, status in ledger
        ], "the outcome was unknown; the runtime recorded the job the cluster started"


def test_an_undo_of_a_dispatch_that_never_reached_the_cluster_makes_the_key_start_nothing(
    cluster: tuple[TrainingService, str],
) -> None:
    service, url = cluster
    gone = httpx.delete(f"{url}/jobs/by-key/k-lost")
    assert gone.status_code == 404
    job = {"run_id": "r-9", "model_name": "m", "gpus": 1}
    late = httpx.post(f"{url}/jobs", json=job, headers={"Idempotency-Key": "k-lost"})
    assert late.json() == {"job_id": "none", "status": "cancelled"}
    assert service.jobs == {}


def test_the_ml_example_run_against_the_real_cluster_is_judged_consistent(
    cluster: tuple[TrainingService, str], tmp_path: Path
) -> None:
    """20 sagas through the served API, jobs completed only by the cluster's webhook: 18
    one after the other, beside one dispatch whose replies never came and one job that
    finishes after the saga gave it up; then ``sagacrew verify --judge-store`` over what
    the saga process recorded."""
    service, base_url = cluster
    build = definition(base_url, timeout_s=0.5, read_timeout_s=0.2)
    lost, late = run_id(build, 18), run_id(build, 19)
    service.plan(lost, duration_s=60, slow_replies=99, reply_delay_s=0.3)
    service.plan(late, duration_s=4.0, ignores_cancel=True)
    store_url = f"sqlite:///{tmp_path / 'state.db'}"
    with saga_process(store_url, build) as saga:
        service.webhook_url = f"{saga.url}/api/events"
        troubled = [saga.start(18), saga.start(19)]
        states = [
            saga.wait_for(saga.start(index), "completed", "compensated") for index in range(18)
        ]
        states += [saga.wait_for(saga_id, "completed", "compensated") for saga_id in troubled]
        assert states == ["completed"] * 18 + ["compensated"] * 2
        late_job = service.job_of(late)

        def late_status() -> str:
            return next(c.status for c in saga.calls() if c.resource_id == late_job.job_id)

        until(lambda: late_status() == "undone", "the late job undone")
    assert service.job_of(lost).status == "cancelled"
    assert all(
        service.attempts_of(job.job_id)[-1] == 202
        for job in service.jobs.values()
        if job.status == "completed"
    ), "every completion arrived through the webhook"

    system_dir = tmp_path / "ml_training"
    shutil.copytree(
        SYSTEM_DIR, system_dir, ignore=shutil.ignore_patterns(".sagacrew", "__pycache__")
    )
    judged = sagacrew("verify", str(system_dir), "--judge-store", store_url, timeout=300)
    assert judged.returncode == 0, judged.stdout + judged.stderr
    assert "VERDICT: PASS" in judged.stdout
    assert "sagas judged: 20 {'compensated': 2, 'completed': 18}" in judged.stdout
    report = json.loads(next(system_dir.rglob("verdict.json")).read_text("utf-8"))
    checks = {check["name"]: check for check in report["checks"]}
    orphans = checks["no_orphaned_external_work"]
    assert (orphans["subjects"], orphans["violation_count"]) == (2, 0)
