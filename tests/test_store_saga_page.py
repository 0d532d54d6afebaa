"""``Store.saga_page``: a page of sagas for the status list, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from saga_fakes import saga_row

from sagacrew.runtime.store import SagaSummary
from sagacrew.runtime.store import SagaTransition
from sagacrew.runtime.store import Store
from sagacrew.runtime.store import open_store


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    opened = open_store(store_url)
    errors = {
        "a": ("completed", None),
        "b": ("compensated", "step 'pay' failed (business refusal: Card DECLINED)"),
        "c": ("stalled", "step 'ship' failed (saga deadline passed: 100% of 5_xx)"),
        "d": ("running", None),
    }
    for offset, (saga_id, (state, error)) in enumerate(errors.items()):
        ended = None if state == "running" else 10.0 + offset * 2
        row = saga_row(saga_id, state, 1.0 + offset, error=error, ended_at=ended)
        opened.apply_saga_transition(SagaTransition(create=row))
    yield opened
    opened.close()


def ids(page: list[tuple[SagaSummary, float | None, str | None]]) -> list[str]:
    return [summary.saga_id for summary, _, _ in page]


def test_a_page_is_newest_first_with_end_time_and_error(store: Store) -> None:
    page = store.saga_page()
    assert ids(page) == ["d", "c", "b", "a"]
    summary, ended_at, error = page[2]
    assert (summary.saga_id, summary.state, summary.started_at) == ("b", "compensated", 2.0)
    assert (ended_at, error) == (12.0, "step 'pay' failed (business refusal: Card DECLINED)")
    assert page[0][1:] == (None, None)


def test_limit_and_offset_page_through_the_sagas(store: Store) -> None:
    assert ids(store.saga_page(limit=2)) == ["d", "c"]
    assert ids(store.saga_page(limit=2, offset=2)) == ["b", "a"]
    assert store.saga_page(limit=2, offset=4) == []


def test_the_error_filter_matches_any_case_and_takes_wildcards_literally(store: Store) -> None:
    assert ids(store.saga_page(error_contains="card declined")) == ["b"]
    assert ids(store.saga_page(error_contains="100%")) == ["c"]
    assert ids(store.saga_page(error_contains="5_x")) == ["c"]
    assert store.saga_page(error_contains="1_0") == []
    assert store.saga_page(error_contains="%") == store.saga_page(error_contains="100%")
    assert ids(store.saga_page(error_contains="failed", states=["stalled"])) == ["c"]
    assert ids(store.saga_page(states=["completed", "running"], saga_name="order")) == ["d", "a"]
    assert store.saga_page(states=[]) == []
