"""The store by role: four recorder interfaces, and every query a runtime caller needs is a
method of the store (SQL lives in the backends), on SQLite and PostgreSQL alike."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest
from saga_fakes import external_call
from saga_fakes import saga_row

from sagacrew.runtime.store import EventRecorder
from sagacrew.runtime.store import LogRecorder
from sagacrew.runtime.store import NewEvent
from sagacrew.runtime.store import OperationsRecorder
from sagacrew.runtime.store import SagaExecution
from sagacrew.runtime.store import SagaRecorder
from sagacrew.runtime.store import SagaTransition
from sagacrew.runtime.store import Store
from sagacrew.runtime.store import open_store

ROOT = Path(__file__).resolve().parent.parent
SQL_BY_DESIGN = {
    # (module, function) allowed to run SQL through ``.query(``, and why
    ("runtime/testing.py", "failing_checks"): "runs the blueprint's checks, SQL by design",
    ("agents/validator/verdict.py", "run_check"): "runs the blueprint's checks, SQL by design",
    ("crew/llm/sql.py", "_execution_problem"): "tries LLM-proposed check SQL on an empty store",
    ("agents/validator/metrics.py", "read_census"): "the verdict's SqlRunner (validator/db.py)",
    ("agents/validator/metrics.py", "read_step_latencies_ms"): "the verdict's SqlRunner",
    ("agents/validator/metrics.py", "worst_window_percentile"): "the verdict's SqlRunner",
}


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    opened = open_store(store_url)
    yield opened
    opened.close()


def test_the_store_is_its_four_roles() -> None:
    assert issubclass(Store, EventRecorder) and issubclass(Store, SagaRecorder)
    assert issubclass(Store, OperationsRecorder) and issubclass(Store, LogRecorder)


def _query_calls(path: Path) -> list[tuple[int, str]]:
    """``(line, innermost enclosing function)`` of every ``.query(`` call in ``path``."""
    found: list[tuple[int, str]] = []

    def visit(node: ast.AST, function: str) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            function = node.name
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "query"
        ):
            found.append((node.lineno, function))
        for child in ast.iter_child_nodes(node):
            visit(child, function)

    visit(ast.parse(path.read_text("utf-8")), "<module>")
    return found


def test_no_module_outside_the_store_writes_sql() -> None:
    """runtime/ (but the store), agents/ and crew/ ask the store for typed reads; only the
    callers of :data:`SQL_BY_DESIGN` run SQL, each for the reason given there."""
    found = []
    for folder in ("runtime", "agents", "crew"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if relative.startswith("runtime/store/"):
                continue
            for line, function in _query_calls(path):
                if (relative, function) not in SQL_BY_DESIGN:
                    found.append(f"{relative}:{line} in {function}")
    assert found == []


def test_the_verification_checks_use_typed_store_reads() -> None:
    folder = ROOT / "agents" / "validator" / "verification"
    assert sorted(folder.glob("*.py"))
    assert [p.name for p in sorted(folder.glob("*.py")) if _query_calls(p)] == []


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
    error = "boom" if state == "compensated" else None
    return saga_row(saga_id, state, started_at, saga_name=name, steps_completed=1, error=error)


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
    store.record_external_call(external_call("k-1", "done", resource_id="r-1"))
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
