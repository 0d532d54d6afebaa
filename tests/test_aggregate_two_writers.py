"""An aggregate actor sharing its store with another process (a second worker): a refusal
stands only if it was decided on the stream as stored now. The command handled by the other
process meanwhile is answered as it was; a refusal decided on a stale cached state is
decided again."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from async_helpers import send
from test_aggregate_actor import Quota

from sagacrew.runtime import Rejection
from sagacrew.runtime import open_store
from sagacrew.runtime.store import Store


class CheckedJustBefore:
    """A store whose first check of idempotency key ``key`` answers as the key stood just
    before the other process committed that command: the check misses it, what is read
    next sees it."""

    def __init__(self, store: Store, key: str, other_commits: threading.Thread) -> None:
        self._store = store
        self._key = key
        self._other_commits = other_commits

    def processed_result(self, key: str) -> dict[str, Any] | None:
        found = self._store.processed_result(key)
        if key == self._key and self._other_commits.ident is None:  # (the first check)
            self._other_commits.start()
            self._other_commits.join()
        return found

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


@pytest.fixture
def path(tmp_path: Path) -> str:
    return f"sqlite://{tmp_path / 'quota.db'}"


def test_a_command_the_other_process_handled_meanwhile_is_answered_as_it_was(path: str) -> None:
    other = Quota(open_store(path))
    answers: list[Any] = []
    commits = threading.Thread(
        target=lambda: answers.append(send(other, "open", key="k", quota_id="q", owner="ada"))
    )
    here = Quota(CheckedJustBefore(open_store(path), "k", commits))  # type: ignore[arg-type]
    again = send(here, "open", key="k", quota_id="q", owner="ada")
    assert not isinstance(again, Rejection), again
    assert again == answers[0]
    assert open_store(path).stream_version("compute.quota:q") == 1


def test_an_undo_that_found_nothing_undoes_the_command_that_acted_before_its_record(
    path: str,
) -> None:
    other = Quota(open_store(path))
    send(other, "open", quota_id="q", owner="ada")
    commits = threading.Thread(target=lambda: send(other, "take", key="k", quota_id="q", amount=5))
    here = Quota(CheckedJustBefore(open_store(path), "k", commits))  # type: ignore[arg-type]
    undo = send(here, "give", key="k:compensation", quota_id="q", undoes="k")
    assert undo.get("undone") is not False, undo
    assert Quota(open_store(path)).replay("q")[0]["gpus"] == 8


def test_a_refusal_decided_on_a_stale_cached_state_is_decided_again(path: str) -> None:
    here, other = Quota(open_store(path)), Quota(open_store(path))
    send(here, "open", quota_id="q", owner="ada")
    send(here, "take", quota_id="q", amount=6)  # here's cache: 2 gpus left
    send(other, "give", quota_id="q", amount=6)  # the store: 8 again
    taken = send(here, "take", quota_id="q", amount=5)
    assert not isinstance(taken, Rejection), taken
    assert Quota(open_store(path)).replay("q")[0]["gpus"] == 3


def test_a_refusal_on_the_current_state_stands(path: str) -> None:
    here = Quota(open_store(path))
    send(here, "open", quota_id="q", owner="ada")
    assert isinstance(send(here, "take", key="k", quota_id="q", amount=9), Rejection)
    assert open_store(path).stream_version("compute.quota:q") == 1
