"""The status API against a real SagaSystem of generated/order_fulfilment on a SQLite store.

Sagas run on the app's own event loop (the TestClient's portal), so the API sees the
orchestrator that ran them; tests wait on the saga itself (``run_saga``/``wait``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from http_helpers import example_app
from order_example import CREATE_ORDER_STEPS

from sagacrew.agents.generated import open_generated
from sagacrew.runtime import SagaResult
from sagacrew.runtime import SagaState
from sagacrew.runtime import SagaSystem
from sagacrew.runtime import ScriptedFault
from sagacrew.runtime import ScriptedFaults

SYSTEM_DIR = Path(__file__).resolve().parent.parent / "generated" / "order_fulfilment"
GENERATED = open_generated(SYSTEM_DIR)
TOKEN = "s3cret-operator-token-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
STEPS = list(CREATE_ORDER_STEPS)


def order(index: int) -> dict[str, Any]:
    """A create_order input with values easy to spot in a response (they must never be)."""
    return {
        "order_id": f"ORDER-SECRET-{index:04d}",
        "consumer_id": f"CONSUMER-SECRET-{index:04d}",
        "ticket_id": f"TICKET-SECRET-{index:04d}",
        "total_cents": 43217,
    }


@dataclass
class Served:
    client: TestClient
    system: SagaSystem
    faults: ScriptedFaults

    def run(self, index: int, *faults: ScriptedFault) -> SagaResult:
        """Run a create_order saga to its end on the app's loop, with ``faults``."""
        self.faults.clear()
        for fault in faults:
            self.faults.add(fault)
        portal = self.client.portal
        assert portal is not None
        result: SagaResult = portal.call(self.system.run_saga, "create_order", order(index))
        self.faults.clear()
        return result

    def wait(self, saga_id: str) -> SagaResult:
        portal = self.client.portal
        assert portal is not None and self.system.orchestrator is not None
        result: SagaResult = portal.call(self.system.orchestrator.wait, saga_id)
        return result


def serving(tmp_path: Path, token: str | None = TOKEN) -> Iterator[Served]:
    faults = ScriptedFaults()
    system = GENERATED.package.build_system(f"sqlite:///{tmp_path / 'state.db'}", faults=faults)
    try:
        with TestClient(example_app(system, token)) as client:
            yield Served(client, system, faults)
    finally:
        system.store.close()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    yield from serving(tmp_path)


@pytest.fixture
def served_without_token(tmp_path: Path) -> Iterator[Served]:
    yield from serving(tmp_path, token=None)


def refused(step: str) -> ScriptedFault:
    return ScriptedFault("create_order", step)


def statuses(body: dict[str, Any]) -> dict[str, str]:
    return {step["name"]: step["status"] for step in body["steps"]}


# --- status ----------------------------------------------------------------------------


def test_status_of_a_completed_saga_says_all_steps_complete(served: Served) -> None:
    result = served.run(1)
    response = served.client.get(f"/api/sagas/{result.saga_id}/status")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {
        "saga_id",
        "saga_name",
        "state",
        "steps_completed",
        "steps_total",
        "summary",
        "current_step",
        "started_at",
        "ended_at",
        "duration_ms",
        "failure_reason",
        "failed_step",
        "locks",
        "dead_letters",
        "steps",
        "timeline",
    }
    assert body["saga_id"] == result.saga_id
    assert body["saga_name"] == "create_order"
    assert body["state"] == "completed"
    assert (body["steps_completed"], body["steps_total"]) == (6, 6)
    assert body["summary"] == "6 of 6 steps complete"
    assert body["current_step"] is None
    assert [step["name"] for step in body["steps"]] == STEPS
    assert (body["failure_reason"], body["failed_step"], body["dead_letters"]) == (None, None, [])
    assert set(statuses(body).values()) == {"succeeded"}
    assert [step["name"] for step in body["steps"] if step["pivot"]] == ["authorize_card"]


def test_status_of_a_compensated_saga_shows_compensated_failed_and_pending_steps(
    served: Served,
) -> None:
    result = served.run(2, refused("authorize_card"))
    body = served.client.get(f"/api/sagas/{result.saga_id}/status").json()
    assert body["state"] == "compensated"
    assert body["summary"].startswith("compensated after step 4 of 6 (authorize_card refused: ")
    assert statuses(body) == {
        "create_order": "compensated",
        "validate_consumer": "succeeded",
        "create_ticket": "compensated",
        "authorize_card": "failed",
        "confirm_ticket": "pending",
        "approve_order": "pending",
    }


def test_status_of_an_unknown_saga_is_a_404_json_error(served: Served) -> None:
    response = served.client.get("/api/sagas/no-such-saga/status")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {
        "error": "no saga with this id",
        "detail": {"saga_id": "no-such-saga"},
    }


def test_status_never_leaks_the_saga_input_step_results_or_ids(served: Served) -> None:
    completed = served.run(3)
    compensated = served.run(4, refused("create_ticket"))
    for result in (completed, compensated):
        text = served.client.get(f"/api/sagas/{result.saga_id}/status").text
        for value in order(3 if result is completed else 4).values():
            assert str(value) not in text
        row = served.system.store.get_saga(result.saga_id)
        assert row is not None
        assert row.correlation_id not in text
        for key, value in result.data.items():
            if key not in ("state", "status"):  # these two are also status fields
                assert f'"{key}"' not in text
            if isinstance(value, str) and len(value) > 8:
                assert value not in text


def test_status_needs_no_operator_token(served_without_token: Served) -> None:
    result = served_without_token.run(5)
    response = served_without_token.client.get(f"/api/sagas/{result.saga_id}/status")
    assert response.status_code == 200


# --- list ------------------------------------------------------------------------------


def test_list_gives_sagas_newest_first_with_summary_and_start_time(served: Served) -> None:
    first = served.run(10)
    second = served.run(11, refused("authorize_card"))
    sagas = served.client.get("/api/sagas").json()["sagas"]
    assert [saga["saga_id"] for saga in sagas] == [second.saga_id, first.saga_id]
    reason = "authorize_card refused: injected business failure of forward authorize_card"
    assert sagas[0] == {
        "saga_id": second.saga_id,
        "saga_name": "create_order",
        "state": "compensated",
        "summary": f"compensated ({reason} (attempt 1))",
        "started_at": sagas[0]["started_at"],
        "ended_at": sagas[0]["ended_at"],
        "duration_ms": sagas[0]["duration_ms"],
        "failure_reason": f"{reason} (attempt 1)",
    }
    assert sagas[0]["started_at"].endswith("Z") and "T" in sagas[0]["started_at"]


def test_list_filters_by_state_saga_name_and_limit(served: Served) -> None:
    done = [served.run(20).saga_id, served.run(21).saga_id]
    undone = served.run(22, refused("validate_consumer")).saga_id

    def ids(query: str) -> list[str]:
        response = served.client.get(f"/api/sagas?{query}")
        assert response.status_code == 200, response.text
        return [saga["saga_id"] for saga in response.json()["sagas"]]

    assert ids("state=compensated") == [undone]
    assert sorted(ids("state=completed")) == sorted(done)
    assert len(ids("state=completed,compensated")) == 3
    assert len(ids("saga_name=create_order")) == 3
    assert ids("saga_name=unknown_saga") == []
    assert ids("limit=1") == [undone]


def test_list_rejects_an_unknown_state_naming_the_known_ones(served: Served) -> None:
    response = served.client.get("/api/sagas?state=finished")
    assert response.status_code == 422
    body = response.json()
    assert "finished" in body["error"]
    assert "completed" in body["detail"]["known"]


# --- operator authentication -----------------------------------------------------------

OPERATOR_CALLS = [
    ("post", "/api/sagas/create_order"),
    ("get", "/api/dead-letters"),
    ("post", "/api/dead-letters/1/redrive"),
    ("post", "/api/admin/pause"),
    ("post", "/api/admin/resume"),
    ("post", "/api/admin/drain?timeout_s=1"),
]


@pytest.mark.parametrize(("method", "path"), OPERATOR_CALLS)
def test_operator_endpoints_answer_401_without_or_with_a_wrong_token(
    served: Served, method: str, path: str
) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        response = served.client.request(method, path, headers=headers, json=order(0))
        assert response.status_code == 401, (headers, response.text)
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json()["error"] == "operator token missing or wrong"
    assert served.system.orchestrator is not None
    assert not served.system.orchestrator.paused


@pytest.mark.parametrize(("method", "path"), OPERATOR_CALLS)
def test_operator_endpoints_answer_403_saying_how_to_set_a_token_when_none_is_configured(
    served_without_token: Served, method: str, path: str
) -> None:
    response = served_without_token.client.request(method, path, headers=AUTH, json=order(0))
    assert response.status_code == 403
    body = response.json()
    assert "no operator token is configured" in body["error"]
    assert "SAGACREW_OPERATOR_TOKEN" in body["detail"]["fix"]


# --- starting sagas --------------------------------------------------------------------


def test_operator_starts_a_saga_with_the_body_as_input_and_gets_202_and_its_id(
    served: Served,
) -> None:
    response = served.client.post("/api/sagas/create_order", json=order(30), headers=AUTH)
    assert response.status_code == 202, response.text
    body = response.json()
    saga_id = body["saga_id"]
    assert body["status_url"] == f"/api/sagas/{saga_id}/status"
    assert body["page_url"] == f"/sagas/{saga_id}"
    assert response.headers["location"] == body["status_url"]
    assert served.wait(saga_id).state == SagaState.COMPLETED
    row = served.system.store.get_saga(saga_id)
    assert row is not None and row.data["order_id"] == "ORDER-SECRET-0030"
    assert served.client.get(body["status_url"]).json()["summary"] == "6 of 6 steps complete"


def test_starting_with_a_chosen_saga_id_twice_starts_one_saga(served: Served) -> None:
    for _ in range(2):
        response = served.client.post(
            "/api/sagas/create_order?saga_id=order-31", json=order(31), headers=AUTH
        )
        assert response.status_code == 202
        assert response.json()["saga_id"] == "order-31"
    served.wait("order-31")
    assert served.client.get("/api/sagas").json()["sagas"][0]["saga_id"] == "order-31"
    assert len(served.client.get("/api/sagas").json()["sagas"]) == 1


def test_starting_an_unknown_saga_type_is_404_naming_the_known_ones(served: Served) -> None:
    response = served.client.post("/api/sagas/create_invoice", json={}, headers=AUTH)
    assert response.status_code == 404
    assert response.json()["detail"] == {"known": ["create_order"]}


def test_starting_with_missing_or_mistyped_input_is_422_listing_each_problem(
    served: Served,
) -> None:
    bad = {**order(32), "total_cents": "a lot"}
    del bad["ticket_id"]
    response = served.client.post("/api/sagas/create_order", json=bad, headers=AUTH)
    assert response.status_code == 422
    assert response.json()["detail"] == [
        "missing field 'ticket_id' (str)",
        "field 'total_cents' must be int, not str",
    ]
    not_an_object = served.client.post("/api/sagas/create_order", json=[1, 2], headers=AUTH)
    assert not_an_object.status_code == 422
    assert not_an_object.json()["error"].startswith("invalid request")
    assert served.client.get("/api/sagas").json()["sagas"] == []


# --- pause, resume, drain --------------------------------------------------------------


def test_pause_refuses_new_sagas_with_409_until_resume(served: Served) -> None:
    paused = served.client.post("/api/admin/pause", headers=AUTH)
    assert paused.json() == {"paused": True, "in_flight": 0}
    assert served.client.get("/healthz").json()["paused"] is True
    refused_start = served.client.post("/api/sagas/create_order", json=order(40), headers=AUTH)
    assert refused_start.status_code == 409
    assert refused_start.json()["error"] == "new sagas are paused"
    assert "/api/admin/resume" in refused_start.json()["detail"]["fix"]
    assert served.client.get("/api/sagas").json()["sagas"] == []
    resumed = served.client.post("/api/admin/resume", headers=AUTH)
    assert resumed.json()["paused"] is False
    started = served.client.post("/api/sagas/create_order", json=order(40), headers=AUTH)
    assert started.status_code == 202
    assert served.wait(started.json()["saga_id"]).state == SagaState.COMPLETED


def test_drain_reports_whether_sagas_are_still_in_flight(served: Served) -> None:
    served.client.post("/api/admin/pause", headers=AUTH)
    response = served.client.post("/api/admin/drain?timeout_s=5", headers=AUTH)
    assert response.json() == {"drained": True, "in_flight": 0, "paused": True}
    assert served.client.post("/api/admin/drain?timeout_s=0", headers=AUTH).status_code == 422


# --- dead letters ----------------------------------------------------------------------


def compensation_fails(step: str) -> ScriptedFault:
    return ScriptedFault("create_order", step, phase="compensation", retriable=True, times=3)


def test_dead_letter_is_listed_and_redrive_finishes_the_compensation(served: Served) -> None:
    result = served.run(50, refused("validate_consumer"), compensation_fails("create_order"))
    assert result.state == SagaState.COMPENSATION_FAILED
    status = served.client.get(f"/api/sagas/{result.saga_id}/status").json()
    assert status["state"] == "compensation_failed"
    assert statuses(status)["create_order"] == "dead_lettered"
    assert statuses(status)["validate_consumer"] == "failed"

    letters = served.client.get("/api/dead-letters", headers=AUTH).json()["dead_letters"]
    assert len(letters) == 1
    letter = letters[0]
    assert (letter["saga_id"], letter["step_name"], letter["status"]) == (
        result.saga_id,
        "create_order",
        "parked",
    )
    assert letter["attempts"] == 3

    redriven = served.client.post(f"/api/dead-letters/{letter['id']}/redrive", headers=AUTH)
    assert redriven.status_code == 200, redriven.text
    assert redriven.json() == {
        "dead_letter_id": letter["id"],
        "saga_id": result.saga_id,
        "state": "compensated",
        "summary": "compensated after step 2 of 6 (validate_consumer refused: injected "
        "business failure of forward validate_consumer (attempt 1))",
    }
    status = served.client.get(f"/api/sagas/{result.saga_id}/status").json()
    assert (status["state"], statuses(status)["create_order"]) == ("compensated", "compensated")
    assert served.client.get("/api/dead-letters", headers=AUTH).json()["dead_letters"] == []
    every = served.client.get("/api/dead-letters?status=all", headers=AUTH).json()
    assert [d["status"] for d in every["dead_letters"]] == ["redriven"]

    again = served.client.post(f"/api/dead-letters/{letter['id']}/redrive", headers=AUTH)
    assert again.status_code == 409
    assert "not parked" in again.json()["error"]


def test_redrive_of_an_unknown_dead_letter_is_404(served: Served) -> None:
    response = served.client.post("/api/dead-letters/999/redrive", headers=AUTH)
    assert response.status_code == 404
    assert response.json()["detail"] == {"dead_letter_id": 999}


# --- flowchart, page, health -----------------------------------------------------------


def test_flowchart_of_a_saga_is_its_types_svg(served: Served) -> None:
    result = served.run(60)
    response = served.client.get(f"/api/sagas/{result.saga_id}/flowchart.svg")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("image/svg+xml")
    assert response.content == (SYSTEM_DIR / "flowcharts" / "create_order.svg").read_bytes()
    assert "default-src 'none'" in response.headers["content-security-policy"]
    missing = served.client.get("/api/sagas/nope/flowchart.svg")
    assert missing.status_code == 404 and missing.json()["error"] == "no saga with this id"


def test_pages_are_served_and_an_unknown_saga_page_is_404(served: Served) -> None:
    result = served.run(61)
    index = served.client.get("/")
    assert index.status_code == 200 and 'data-page="index"' in index.text
    page = served.client.get(f"/sagas/{result.saga_id}")
    assert page.status_code == 200 and 'data-page="saga"' in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    assert served.client.get("/sagas/unknown").status_code == 404
    assert served.client.get("/static/app.js").status_code == 200


def test_healthz_and_system_describe_the_running_system(served: Served) -> None:
    assert served.client.get("/healthz").json() == {
        "status": "ok",
        "system": "order_fulfilment",
        "store": "available",
        "paused": False,
        "in_flight": 0,
    }
    system = served.client.get("/api/system").json()
    assert system["title"] == "Order fulfilment (FTGO CreateOrderSaga)"
    assert system["sagas"][0]["steps"] == STEPS
    assert system["sagas"][0]["pivot"] == "authorize_card"


def test_unknown_paths_answer_json_404(served: Served) -> None:
    response = served.client.get("/api/nothing-here")
    assert response.status_code == 404
    assert response.json() == {
        "error": "no such page or endpoint: /api/nothing-here",
        "detail": None,
    }


def test_openapi_document_lists_the_endpoints(served: Served) -> None:
    paths = served.client.get("/api/openapi.json").json()["paths"]
    assert "/api/sagas/{saga_id}/status" in paths
    assert "/api/admin/drain" in paths


@pytest.mark.slow
def test_importing_the_runtime_does_not_import_fastapi() -> None:
    code = (
        "import json, sys, sagacrew.runtime; "
        "print(json.dumps(sorted(m for m in sys.modules "
        "if m.split('.')[0] in ('fastapi', 'uvicorn', 'starlette'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(out.stdout) == []


# --- semantic locks --------------------------------------------------------------------


def test_locks_lists_the_pending_order_a_stalled_saga_holds(served: Served) -> None:
    served.run(1)  # completed: its locks were released by its last steps
    stalled = served.run(2, refused("approve_order"))
    assert stalled.state is SagaState.STALLED
    assert served.client.get("/api/locks").status_code == 401
    body = served.client.get("/api/locks", headers=AUTH).json()
    assert body == {
        "locks": [
            {
                "stream_id": "ordering.order:ORDER-SECRET-0002",
                "saga_id": stalled.saga_id,
                "saga_name": "create_order",
                "step_name": "create_order",
            }
        ]
    }
