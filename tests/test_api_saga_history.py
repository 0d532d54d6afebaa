"""What operators see of one saga on the status API: why it failed and at which step, each
step's attempts, times, last error, next retry and compensation, held locks, the
timeline; and the list's paging, counts, durations and failure-reason filter.

Completed, compensated and dead-lettered sagas run for real (generated/order_fulfilment
on SQLite); in-flight and stalled sagas are built from store rows, since their moment
passes too quickly to catch."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from order_example import GENERATED
from saga_fakes import saga_row
from saga_fakes import step_entry
from test_api_status import AUTH
from test_api_status import Served
from test_api_status import compensation_fails
from test_api_status import order
from test_api_status import refused
from test_api_status import serving

from sagacrew.runtime import SagaState
from sagacrew.runtime.api._history import reason_of
from sagacrew.runtime.api._history import saga_history
from sagacrew.runtime.api._progress import StepOutline
from sagacrew.runtime.api._redact import MAX_ERROR_CHARS
from sagacrew.runtime.api._redact import short_error
from sagacrew.runtime.store import StepLogEntry


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    yield from serving(tmp_path)


def status(served: Served, saga_id: str) -> dict[str, Any]:
    response = served.client.get(f"/api/sagas/{saga_id}/status")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def step(body: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(s for s in body["steps"] if s["name"] == name)
    return found


def when(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


# --- completed -------------------------------------------------------------------------


def test_a_completed_saga_has_times_durations_and_a_timeline_and_no_failure(
    served: Served,
) -> None:
    body = status(served, served.run(1).saga_id)
    assert body["summary"] == "6 of 6 steps complete"
    assert (body["failure_reason"], body["failed_step"], body["locks"]) == (None, None, [])
    assert body["duration_ms"] > 0 and when(body["ended_at"]) >= when(body["started_at"])
    for item in body["steps"]:
        assert item["attempts"] == 1 and item["last_error"] is None
        assert item["next_retry_at"] is None and item["duration_ms"] >= 0
        assert when(body["started_at"]) <= when(item["started_at"]) <= when(item["ended_at"])
        assert item["compensation"] in ("not_run", "none")
    assert step(body, "validate_consumer")["compensation"] == "none"  # read only
    assert step(body, "create_order")["compensation"] == "not_run"
    timeline = body["timeline"]
    assert timeline[0]["text"] == "create_order started"
    assert timeline[-1] == {**timeline[-1], "phase": "saga", "status": "completed"}
    assert [when(e["at"]) for e in timeline] == sorted(when(e["at"]) for e in timeline)
    succeeded = [e["step"] for e in timeline if e["status"] == "succeeded"]
    assert succeeded == [s["name"] for s in body["steps"]]


# --- compensated -----------------------------------------------------------------------


def test_a_compensated_saga_says_after_which_step_it_compensated_and_why(
    served: Served,
) -> None:
    body = status(served, served.run(2, refused("authorize_card")).saga_id)
    assert body["state"] == "compensated"
    assert body["failed_step"] == "authorize_card"
    assert body["failure_reason"] == (
        "authorize_card refused: injected business failure of forward authorize_card (attempt 1)"
    )
    assert body["summary"] == f"compensated after step 4 of 6 ({body['failure_reason']})"
    assert "steps complete" not in body["summary"]
    failed = step(body, "authorize_card")
    assert failed["status"] == "failed" and failed["attempts"] == 1
    assert failed["last_error"].startswith("injected business failure")
    compensations = {s["name"]: s["compensation"] for s in body["steps"]}
    assert compensations == {
        "create_order": "ran",
        "validate_consumer": "none",
        "create_ticket": "ran",
        "authorize_card": "not_run",
        "confirm_ticket": "not_run",
        "approve_order": "not_run",
    }
    undo = [e["text"] for e in body["timeline"] if e["phase"] == "compensation"]
    assert undo == [
        "undo create_ticket: attempt 1 started",
        undo[1],
        "undo create_order: attempt 1 started",
        undo[3],
    ]
    assert undo[1].startswith("undo create_ticket succeeded")
    assert body["locks"] == []  # the undo released them


def test_a_step_retried_before_it_succeeded_counts_its_attempts_and_keeps_its_last_error(
    served: Served,
) -> None:
    transient = dataclasses.replace(refused("create_ticket"), retriable=True, times=2)
    body = status(served, served.run(3, transient).saga_id)
    assert body["state"] == "completed"
    ticket = step(body, "create_ticket")
    assert ticket["attempts"] == 3 and ticket["status"] == "succeeded"
    assert ticket["last_error"] == "injected transient failure of forward create_ticket (attempt 2)"
    assert ticket["next_retry_at"] is None
    failures = [e["text"] for e in body["timeline"] if e["status"] == "failed"]
    assert failures == [
        "create_ticket failed (attempt 1): injected transient failure of forward "
        "create_ticket (attempt 1)",
        "create_ticket failed (attempt 2): injected transient failure of forward "
        "create_ticket (attempt 2)",
    ]


# --- dead-lettered ---------------------------------------------------------------------


def test_a_dead_lettered_saga_names_its_parked_undo_its_dead_letter_and_held_lock(
    served: Served,
) -> None:
    result = served.run(4, refused("validate_consumer"), compensation_fails("create_order"))
    assert result.state == SagaState.COMPENSATION_FAILED
    body = status(served, result.saga_id)
    letters = served.client.get("/api/dead-letters", headers=AUTH).json()["dead_letters"]
    assert body["dead_letters"] == [letters[0]["id"]]
    assert body["failed_step"] == "validate_consumer"
    assert body["summary"].startswith("compensation failed after step 2 of 6 (validate_consumer")
    assert body["summary"].endswith("; undo create_order parked as a dead letter")
    parked = step(body, "create_order")
    assert (parked["status"], parked["compensation"]) == ("dead_lettered", "dead_lettered")
    assert parked["compensation_attempts"] == 3
    assert parked["last_error"].startswith("injected transient failure of compensation")
    assert body["locks"] == [{"aggregate": "ordering.order", "step_name": "create_order"}]
    text = served.client.get(f"/api/sagas/{result.saga_id}/status").text
    assert order(4)["order_id"] not in text
    assert any(e["status"] == "dead_lettered" for e in body["timeline"])

    served.client.post(f"/api/dead-letters/{letters[0]['id']}/redrive", headers=AUTH)
    after = status(served, result.saga_id)
    assert after["state"] == "compensated" and after["dead_letters"] == []
    assert step(after, "create_order")["compensation"] == "ran"
    assert after["locks"] == []
    assert f"dead letter #{letters[0]['id']} redriven" in after["timeline"][-2]["text"]


# --- in flight and stalled, from store rows --------------------------------------------

DEFINITION = next(saga for saga in GENERATED.definition.sagas if saga.name == "create_order")
OUTLINE = [StepOutline(s.name, s.pivot) for s in DEFINITION.steps]
Row = tuple[int, str, str, int, float, str | None]


def log(*specs: Row) -> list[StepLogEntry]:
    """Step log rows ``(step index, phase, status, attempt, ended at, error)``."""
    return [
        step_entry(
            "s-1",
            index,
            OUTLINE[index].name,
            phase,
            state,
            attempt,
            started_at=at - 0.5,
            ended_at=None if state == "started" else at,
            error=error,
            result={"outcome": "failed"} if state == "failed" else None,
        )
        for index, phase, state, attempt, at, error in specs
    ]


def test_an_in_flight_saga_retrying_a_step_gives_the_next_retry_time_without_jitter() -> None:
    saga = saga_row(
        "s-1",
        "running",
        99.0,
        saga_name="create_order",
        step_index=1,
        steps_total=6,
        steps_completed=1,
        data={"order_id": "ORDER-SECRET-1"},
    )
    rows = log(
        (0, "forward", "succeeded", 1, 100.0, None),
        (1, "forward", "failed", 1, 101.0, "consumer service for ORDER-SECRET-1 unreachable"),
    )
    history = saga_history(saga, OUTLINE, rows, [], DEFINITION)
    retrying = history.steps[1]
    assert retrying.status == "running" and retrying.attempts == 1
    delay_s = DEFINITION.steps[1].retry_policy.initial_backoff_s
    assert retrying.next_retry_at is not None
    assert when(retrying.next_retry_at).timestamp() == pytest.approx(101.0 + delay_s, abs=1e-3)
    assert retrying.last_error == "consumer service for … unreachable"
    assert retrying.ended_at is None and retrying.duration_ms is None
    assert history.summary == "1 of 6 steps complete"
    assert (history.failed_step, history.failure_reason) == (None, None)
    assert [s.next_retry_at for s in history.steps if s is not retrying] == [None] * 5


def test_a_stalled_saga_says_at_which_step_it_stalled_and_that_an_operator_must_act() -> None:
    saga = saga_row(
        "s-1",
        "stalled",
        99.0,
        saga_name="create_order",
        step_index=4,
        steps_total=6,
        steps_completed=4,
        ended_at=120.0,
        error="step 'confirm_ticket' failed (saga deadline passed: kitchen down)",
    )
    rows = log(
        *((i, "forward", "succeeded", 1, 100.0 + i, None) for i in range(4)),
        (4, "forward", "failed", 7, 119.0, "kitchen down"),
    )
    history = saga_history(saga, OUTLINE, rows, [], DEFINITION)
    assert history.failed_step == "confirm_ticket"
    assert history.failure_reason == "confirm_ticket failed after 7 attempts: kitchen down"
    assert history.summary == (
        "stalled at step 5 of 6 (confirm_ticket failed after 7 attempts: kitchen down); "
        "an operator must resolve it"
    )
    assert history.steps[4].next_retry_at is None and history.steps[4].attempts == 7
    assert history.timeline[-1].text == "saga stalled"


# --- errors as operators read them -----------------------------------------------------


def test_short_errors_drop_the_sagas_values_secrets_and_credentials_and_stay_short() -> None:
    text = (
        "POST https://bob:hunter2@pay.example/v1 for ORDER-SECRET-0042 failed: "
        "401 token=abc123 api_key: 'k-9' id 4f1e2d3c4b5a69788796a5b4c3d2e1f0\nTraceback..."
    )
    short = short_error(text, ["ORDER-SECRET-0042"])
    assert short is not None
    for leaked in ("hunter2", "bob", "ORDER-SECRET-0042", "abc123", "k-9", "4f1e2d3c", "\n"):
        assert leaked not in short
    assert short.startswith("POST https://…@pay.example/v1 for … failed: 401 token=…")
    assert len(short_error("x" * 1000) or "") == MAX_ERROR_CHARS
    assert short_error("card declined for reserve_inventory_for_each_line") == (
        "card declined for reserve_inventory_for_each_line"
    )


def test_the_saga_error_column_reads_as_a_failure_reason() -> None:
    assert reason_of("step 'authorize_card' failed (business refusal: card declined)") == (
        "authorize_card refused: card declined"
    )
    assert reason_of("step 'x' failed (3 attempts exhausted: down)") == (
        "x failed after 3 attempts: down"
    )
    assert reason_of("step 'x' failed (timed out, on_timeout: compensate: slow)") == (
        "x timed out: slow"
    )
    assert reason_of("something else") == "something else"
    assert reason_of(None) is None


# --- the list ----------------------------------------------------------------------------


def test_the_list_pages_counts_states_gives_durations_and_filters_by_failure_reason(
    served: Served,
) -> None:
    ok = [served.run(10 + i).saga_id for i in range(3)]
    undone = served.run(20, refused("authorize_card")).saga_id

    def page(query: str) -> dict[str, Any]:
        response = served.client.get(f"/api/sagas?{query}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    first = page("limit=2")
    assert [s["saga_id"] for s in first["sagas"]] == [undone, ok[2]]
    assert (first["offset"], first["next_offset"]) == (0, 2)
    second = page(f"limit=2&offset={first['next_offset']}")
    assert [s["saga_id"] for s in second["sagas"]] == [ok[1], ok[0]]
    assert second["next_offset"] is None
    assert first["counts"]["completed"] == 3 and first["counts"]["compensated"] == 1
    assert sum(first["counts"].values()) == 4
    row = first["sagas"][0]
    assert row["duration_ms"] > 0 and row["ended_at"] is not None
    assert row["failure_reason"].startswith("authorize_card refused: injected")
    assert row["summary"] == f"compensated ({row['failure_reason']})"
    assert first["sagas"][1]["failure_reason"] is None
    assert [s["saga_id"] for s in page("reason=Business%20REFUSAL")["sagas"]] == [undone]
    assert page("reason=100%25_sure")["sagas"] == []
    assert page("reason=authorize_card&state=completed")["sagas"] == []
    assert page("offset=10")["sagas"] == [] and page("offset=10")["counts"] == first["counts"]
