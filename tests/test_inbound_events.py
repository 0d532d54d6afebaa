"""Completion events from outside (``POST /api/events``): a real gateway's running call is
completed only by its system's signed event, and every bad event gets its documented
answer without losing anything."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterator
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from ml_example import EVENT
from ml_example import ML
from ml_example import SYSTEM_DIR
from ml_example import with_cluster

from sagacrew.runtime import Envelope
from sagacrew.runtime import GatewayOperation
from sagacrew.runtime import SagaSystem
from sagacrew.runtime import SandboxGateway
from sagacrew.runtime import SystemDefinition
from sagacrew.runtime.api import ServeError
from sagacrew.runtime.api import create_app
from sagacrew.runtime.api import parse_event_secrets
from sagacrew.runtime.api import signature

SECRET = "cluster-secret"


class RealCluster(ML.gateways.TrainingClusterGatewayBase):  # type: ignore[misc, name-defined]
    """A 'real' client: the job runs remotely; only the cluster's event completes it."""

    async def perform(
        self, name: str, operation: GatewayOperation, message: Envelope
    ) -> dict[str, Any]:
        if name == "dispatch_training":
            return {"resource_id": f"job-{message.payload['run_id']}", "status": "running"}
        result: dict[str, Any] = await SandboxGateway.perform(self, name, operation, message)
        return result


def definition(timeout_s: float | None = None) -> SystemDefinition:
    return with_cluster(RealCluster, timeout_s)


@dataclasses.dataclass
class Api:
    client: TestClient
    build: SystemDefinition
    system: SagaSystem

    def start(self, index: int) -> str:
        data = self.build.sample_inputs("train_model", index)
        response = self.client.post(
            "/api/sagas/train_model", json=data, headers={"Authorization": "Bearer op"}
        )
        assert response.status_code == 202, response.text
        return str(response.json()["saga_id"])

    def state(self, saga_id: str) -> str:
        return str(self.client.get(f"/api/sagas/{saga_id}/status").json()["state"])

    def wait_for(self, saga_id: str, *states: str) -> str:
        deadline = time.monotonic() + 10
        while (state := self.state(saga_id)) not in states:
            assert time.monotonic() < deadline, f"saga {saga_id} stuck in {state}"
            time.sleep(0.02)
        return state

    def post(self, event: Mapping[str, Any], *, secret: str | None = SECRET) -> Any:
        body = json.dumps(event).encode()
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers["X-Sagacrew-Signature"] = signature(secret, body)
        return self.client.post("/api/events", content=body, headers=headers)

    def ledger(self) -> list[tuple[str, str]]:
        calls = self.system.store.list_external_calls(system="training_cluster")
        return [(c.operation, c.status) for c in calls]


def serve(tmp_path: Path, build: SystemDefinition) -> Iterator[Api]:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    system = build(url)
    app = create_app(
        system,
        blueprint=json.loads((SYSTEM_DIR / "blueprint.json").read_text("utf-8")),
        flowcharts_dir=None,
        operator_token="op",
        event_secrets={"training_cluster": SECRET},
    )
    with TestClient(app) as client:
        yield Api(client, build, system)
    system.store.close()


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    yield from serve(tmp_path, definition())


def event(saga_run: str, event_id: str = "ev-1", **changes: Any) -> dict[str, Any]:
    return {
        "name": EVENT,
        "event_id": event_id,
        "resource_id": f"job-{saga_run}",
        "payload": {"status": "completed", "result": {"accuracy": 0.93}},
        **changes,
    }


def test_a_real_gateways_call_waits_for_the_signed_event_and_completes_with_it(api: Api) -> None:
    saga_id = api.start(0)
    assert api.wait_for(saga_id, "waiting") == "waiting"
    time.sleep(0.1)  # the sandbox would have completed it after 10 ms: it must not
    assert api.state(saga_id) == "waiting"
    run_id = api.build.sample_inputs("train_model", 0)["run_id"]
    accepted = api.post(event(run_id))
    assert accepted.status_code == 202, accepted.text
    assert accepted.json() == {
        "event_id": "ev-1",
        "system": "training_cluster",
        "operation": "dispatch_training",
        "delivered": True,
    }
    assert api.wait_for(saga_id, "completed", "compensated") == "completed"


def test_forged_replayed_unknown_and_malformed_events_get_their_answers_and_lose_nothing(
    api: Api,
) -> None:
    saga_id = api.start(1)
    api.wait_for(saga_id, "waiting")
    run_id = api.build.sample_inputs("train_model", 1)["run_id"]

    forged = api.post(event(run_id), secret="not-the-secret")
    assert forged.status_code == 401
    assert "X-Sagacrew-Signature" in forged.json()["detail"]["fix"]
    unsigned = api.post(event(run_id), secret=None)
    assert unsigned.status_code == 401
    unknown_call = api.post(event("no-such-run"))
    assert unknown_call.status_code == 404
    assert "no call of training_cluster.dispatch_training" in unknown_call.json()["error"]
    unknown_event = api.post(event(run_id, name="ml.run.finished"))
    assert unknown_event.status_code in (401, 404)  # no secret covers an unknown event's system
    malformed = api.post(event(run_id, payload={"status": "failed"}))
    assert malformed.status_code == 400
    assert "status must be 'completed'" in malformed.json()["error"]
    not_json = api.client.post(
        "/api/events", content=b"{", headers={"X-Sagacrew-Signature": signature(SECRET, b"{")}
    )
    assert not_json.status_code == 400
    assert api.state(saga_id) == "waiting", "no refused event touched the saga"
    assert api.ledger() == [("dispatch_training", "running")]

    assert api.post(event(run_id)).status_code == 202
    assert api.wait_for(saga_id, "completed", "compensated") == "completed"
    replay = api.post(event(run_id))
    assert replay.status_code == 409
    assert "received already" in replay.json()["error"]
    another = api.post(event(run_id, event_id="ev-2"))
    assert another.status_code == 409
    assert api.ledger() == [("dispatch_training", "completed")]
    assert api.state(saga_id) == "completed"


def test_the_operator_token_may_deliver_an_event_instead_of_a_signature(api: Api) -> None:
    saga_id = api.start(2)
    api.wait_for(saga_id, "waiting")
    run_id = api.build.sample_inputs("train_model", 2)["run_id"]
    response = api.client.post(
        "/api/events", json=event(run_id), headers={"Authorization": "Bearer op"}
    )
    assert response.status_code == 202
    assert api.wait_for(saga_id, "completed", "compensated") == "completed"


def test_an_event_for_a_compensated_saga_undoes_the_late_work_once(tmp_path: Path) -> None:
    for api in serve(tmp_path, definition(timeout_s=0.2)):
        saga_id = api.start(3)
        assert api.wait_for(saga_id, "compensated", "completed") == "compensated"
        assert ("dispatch_training", "cancelled") in api.ledger(), "the running job was cancelled"
        run_id = api.build.sample_inputs("train_model", 3)["run_id"]
        late = api.post(event(run_id))  # ... but the cluster had finished it anyway
        assert late.status_code == 202, late.text
        assert late.json()["delivered"] is False  # nothing waited: the saga undoes it
        deadline = time.monotonic() + 10
        while ("dispatch_training", "undone") not in api.ledger():
            assert time.monotonic() < deadline, api.ledger()
            time.sleep(0.02)
        undos = [row for row in api.ledger() if row[0] == "cancel_training"]
        assert len(undos) == 2, "the cancel, then one undo of the late work"
        assert api.post(event(run_id)).status_code == 409
        time.sleep(0.05)
        assert len([row for row in api.ledger() if row[0] == "cancel_training"]) == 2
        assert api.state(saga_id) == "compensated"


def test_serve_refuses_a_malformed_or_unknown_event_secret_in_one_line() -> None:
    gateways = (RealCluster,)
    assert parse_event_secrets(["training_cluster=a"], gateways) == {"training_cluster": "a"}
    with pytest.raises(ServeError, match="write SYSTEM=SECRET"):
        parse_event_secrets(["training_cluster"], gateways)
    with pytest.raises(ServeError, match="no external system 'payments'"):
        parse_event_secrets(["payments=s"], gateways)
