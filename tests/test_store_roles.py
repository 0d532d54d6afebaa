"""The store by role: four recorder interfaces, and every query a runtime caller needs is a
method of the store (SQL lives in the backends), on SQLite and PostgreSQL alike."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from sagacrew.runtime.store import (
    EventRecorder,
    ExternalCall,
    LogRecorder,
    NewEvent,
    OperationsRecorder,
    SagaExecution,
    SagaRecorder,
    SagaTransition,
    Store,
    open_store,
)

ROOT = Path(__file__).resolve().parent.parent
VALIDATOR_SQL = {("runtime/testing.py", "failing_checks")}  # the checks are SQL by design


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    opened = open_store(store_url)
    yield opened
    opened.close()


def test_the_store_is_its_four_roles() -> None:
    assert issubclass(Store, EventRecorder) and issubclass(Store, SagaRecorder)
    assert issubclass(Store, OperationsRecorder) and issubclass(Store, LogRecorder)


def test_no_runtime_module_outside_the_store_writes_sql() -> None:
    found = []
    for path in sorted((ROOT / "runtime").rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith("runtime/store/"):
            continue
        tree = ast.parse(path.read_text("utf-8"))
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(function):
                query = (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "query"
                )
                if query and (relative, function.name) not in VALIDATOR_SQL:
                    found.append(f"{relative}:{getattr(node, 'lineno', 0)} in {function.name}")
    assert found == []


def _event(stream: str) -> list[NewEvent]:
    return [NewEvent("shop.item.created", {"id": stream}, "c-1", "c-1")]


def test_stream_ids_match_the_prefix_exactly(store: Store) -> None:
    for stream in ("shop.item:a", "shop.item:b", "shopXitem:c", "shop.item_x:d"):
        store.append(stream, 0, _event(stream))
    assert store.stream_ids("shop.item:") == ["shop.item:a", "shop.item:b"]
    assert store.stream_ids("shop_item") == []  # "_" is no wildcard
    [row] = store.raw_events("shop.item:a")
    assert row[1:3] == (1, "shop.item.created") and isinstance(row[4], str)


def _saga(saga_id: str, state: str, started_at: float, name: str = "order") -> SagaExecution:
    return SagaExecution(
        saga_id=saga_id,
        saga_name=name,
        state=state,
        step_index=0,
        steps_total=3,
        steps_completed=1,
        pivot_index=None,
        data={},
        correlation_id=f"c-{saga_id}",
        causation_id=f"c-{saga_id}",
        started_at=started_at,
        updated_at=started_at,
        deadline_at=started_at + 60,
        error="boom" if state == "compensated" else None,
    )


def test_saga_reads_for_lists_labels_and_figures(store: Store) -> None:
    for saga in (
        _saga("s-1", "completed", 1.0),
        _saga("s-2", "compensated", 2.0),
        _saga("s-3", "running", 3.0, name="refund"),
    ):
        store.apply_saga_transition(SagaTransition(create=saga))
    newest = store.saga_summaries(limit=2)
    assert [s.saga_id for s in newest] == ["s-3", "s-2"]
    assert [s.saga_id for s in store.saga_summaries(states=["completed", "running"])] == [
        "s-3",
        "s-1",
    ]
    assert [s.saga_id for s in store.saga_summaries(saga_name="refund")] == ["s-3"]
    assert store.saga_summaries(states=[]) == []
    assert store.saga_label("s-2") == ("order", "c-s-2") and store.saga_label("nope") is None
    assert store.saga_errors(["compensated"]) == [("s-2", "compensated", "boom")]
    assert store.saga_state_counts() == {"completed": 1, "compensated": 1, "running": 1}
    assert store.failed_forward_steps() == {}


def test_operations_and_log_reads(store: Store) -> None:
    store.record_external_call(
        ExternalCall("k-1", "bank", "open", "r-1", "done", {}, {}, "c", "c", 1.0, 1.0)
    )
    assert store.external_call_key("bank", "open", "r-1") == "k-1"
    assert store.external_call_key("bank", "open", "r-2") is None
    assert store.parked_compensations() == 0
    for n, outcome in enumerate(("error", "ok", "error")):
        store.log_message(
            message_id=f"m-{n}",
            actor="shop.item",
            message_name="create",
            correlation_id="c",
            causation_id="c",
            received_at=10.0 + n,
            handled_ms=1.0,
            outcome=outcome,
            error="bad" if outcome == "error" else None,
        )
    assert store.actor_errors(11.0) == [("shop.item", "bad")]
    assert len(store.actor_errors(0.0)) == 2
