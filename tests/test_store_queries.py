"""The typed reads the validator's verification checks ask the store for (instead of SQL),
on SQLite and PostgreSQL alike."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from saga_fakes import external_call
from saga_fakes import saga_row

from sagacrew.runtime.store import ExternalCall
from sagacrew.runtime.store import NewEvent
from sagacrew.runtime.store import SagaExecution
from sagacrew.runtime.store import SagaTransition
from sagacrew.runtime.store import Store
from sagacrew.runtime.store import open_store


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    opened = open_store(store_url)
    yield opened
    opened.close()


def _saga(saga_id: str, state: str, correlation_id: str, started_at: float) -> SagaExecution:
    return saga_row(
        saga_id,
        state,
        started_at,
        steps_total=2,
        correlation_id=correlation_id,
        causation_id=correlation_id,
    )


def _call(key: str, system: str, operation: str, status: str, correlation_id: str) -> ExternalCall:
    return external_call(
        key, status, system=system, operation=operation, correlation_id=correlation_id
    )


def test_streams_with_event_match_the_type_exactly(store: Store) -> None:
    store.append("shop.item:b", 0, [NewEvent("shop.item.restored", {}, "c", "c")])
    store.append("shop.item:a", 0, [NewEvent("shop.item.created", {}, "c", "c")])
    store.append(
        "shop.item:a",
        1,
        [
            NewEvent("shop.item.restored", {}, "c", "c"),
            NewEvent("shop.item.restored", {}, "c", "c"),
        ],
    )
    store.append("shop.item:c", 0, [NewEvent("shop.item_restored", {}, "c", "c")])
    assert store.streams_with_event("shop.item.restored") == ["shop.item:a", "shop.item:b"]
    assert store.streams_with_event("shop.item.created") == ["shop.item:a"]
    assert store.streams_with_event("shop.item.%") == []


def test_events_of_correlation_span_streams_in_global_order(store: Store) -> None:
    store.append("a:1", 0, [NewEvent("a.made", {"n": 1}, "c-1", "c-1", metadata={"k": "x"})])
    store.append("b:1", 0, [NewEvent("b.made", {"n": 2}, "c-2", "c-2")])
    store.append("b:1", 1, [NewEvent("b.moved", {"n": 3}, "c-1", "c-1")])
    store.append("a:1", 1, [NewEvent("a.moved", {"n": 4}, "c-1", "c-1")])
    events = store.events_of_correlation("c-1")
    assert [(e.stream_id, e.event_type, e.payload["n"]) for e in events] == [
        ("a:1", "a.made", 1),
        ("b:1", "b.moved", 3),
        ("a:1", "a.moved", 4),
    ]
    assert events[0].metadata == {"k": "x"} and events[0].version == 1
    assert [e.position for e in events] == sorted(e.position for e in events)
    assert store.events_of_correlation("c-9") == []


def test_saga_ids_by_correlation(store: Store) -> None:
    assert store.saga_ids_by_correlation() == {}
    for saga in (
        _saga("s-1", "completed", "c-1", 1.0),
        _saga("s-2", "running", "c-2", 2.0),
        _saga("s-3", "compensated", "c-1", 3.0),
    ):
        store.apply_saga_transition(SagaTransition(create=saga))
    assert store.saga_ids_by_correlation() == {"c-1": "s-3", "c-2": "s-2"}


def test_compensated_external_calls_of_one_operation(store: Store) -> None:
    for saga in (
        _saga("s-2", "compensated", "c-2", 1.0),
        _saga("s-1", "compensated", "c-1", 2.0),
        _saga("s-3", "completed", "c-3", 3.0),
    ):
        store.apply_saga_transition(SagaTransition(create=saga))
    for call in (
        _call("k-b", "bank", "open", "done", "c-1"),
        _call("k-a", "bank", "open", "undone", "c-1"),
        _call("k-c", "bank", "open", "cancelled", "c-2"),
        _call("k-d", "bank", "open", "done", "c-3"),  # the saga completed
        _call("k-e", "bank", "close", "done", "c-1"),  # another operation
        _call("k-f", "shop", "open", "done", "c-1"),  # another system
        _call("k-g", "bank", "open", "done", "c-9"),  # no saga
    ):
        assert store.record_external_call(call)
    assert store.compensated_external_calls("bank", "open") == [
        ("s-1", "k-a", "undone"),
        ("s-1", "k-b", "done"),
        ("s-2", "k-c", "cancelled"),
    ]
    assert store.compensated_external_calls("bank", "wire") == []


def _validation(system: str, profile: str, at: float, score: float) -> dict[str, object]:
    return {
        "system": system,
        "profile": profile,
        "validated_at": at,
        "sagas_total": 1,
        "success_rate": 1.0,
        "step_latency_p95_ms": 0.0,
        "step_latency_p99_ms": 0.0,
        "consistency_score": score,
        "passed": True,
        "report": {},
    }


def test_consistency_history_of_one_system_and_profile(store: Store) -> None:
    for row in (
        _validation("shop", "dev", 20.0, 0.5),
        _validation("shop", "prod", 15.0, 0.9),
        _validation("bank", "dev", 12.0, 0.1),
        _validation("shop", "dev", 10.0, 1),
    ):
        store.record_validation(**row)
    history = store.consistency_history("shop", "dev")
    assert history == [(10.0, 1.0), (20.0, 0.5)]
    assert all(type(at) is float and type(score) is float for at, score in history)
    assert store.consistency_history("shop", "test") == []
