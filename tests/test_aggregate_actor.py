"""The event-sourced aggregate actor: decisions by command kind, refusals as answers,
idempotent redelivery, built-in compensations, invariants, snapshots and replay."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from typing import ClassVar

import pytest
from async_helpers import send

from sagacrew.runtime import AggregateActor
from sagacrew.runtime import CommandHandler
from sagacrew.runtime import Rejection
from sagacrew.runtime import open_store
from sagacrew.runtime.store import SqliteStore
from sagacrew.runtime.store import Store


class Quota(AggregateActor):
    address: ClassVar[str] = "compute.quota"
    identity: ClassVar[str] = "quota_id"
    fields: ClassVar[Mapping[str, str]] = {"quota_id": "str", "gpus": "int", "owner": "str"}
    initial: ClassVar[Mapping[str, Any]] = {"gpus": 8}
    snapshot_every: ClassVar[int] = 3
    commands: ClassVar[Mapping[str, CommandHandler]] = {
        "open": CommandHandler(kind="create", event="compute.quota.created", params=("owner",)),
        "rename": CommandHandler(kind="update", event="compute.quota.renamed", params=("owner",)),
        "take": CommandHandler(
            kind="reserve", event="compute.quota.reserved", quantity_field="gpus"
        ),
        "give": CommandHandler(
            kind="release", event="compute.quota.released", quantity_field="gpus"
        ),
        "peek": CommandHandler(
            kind="query",
            event=None,
            rejects_when=lambda state, params: state["owner"] == "",
        ),
    }

    def broken_invariants(self, state: Mapping[str, Any]) -> list[str]:
        return ["gpus_never_negative"] if state["gpus"] < 0 else []


class SnapshotThreads(SqliteStore):
    """Notes the thread each snapshot is saved on."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.saved_on: list[threading.Thread | None] = []

    def save_snapshot(self, stream_id: str, version: int, state: Mapping[str, Any]) -> None:
        self.saved_on.append(threading.current_thread())
        super().save_snapshot(stream_id, version, state)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return open_store(f"sqlite://{tmp_path / 'quota.db'}")


def test_commands_change_state_by_kind_and_replay_rebuilds_it(store: Store) -> None:
    actor = Quota(store)
    assert send(actor, "open", quota_id="q", owner="ada")["version"] == 1
    assert send(actor, "take", quota_id="q", amount=5)["amount"] == 5
    renamed = send(actor, "rename", quota_id="q", owner="grace")
    assert renamed["before"] == {"owner": "ada"}
    send(actor, "give", quota_id="q", amount=2)
    state, version, exists = Quota(store).replay("q")
    assert (state["gpus"], state["owner"], version, exists) == (5, "grace", 4, True)


def test_a_refusal_is_an_answer_not_a_crash(store: Store) -> None:
    actor = Quota(store)
    send(actor, "open", quota_id="q", owner="ada")
    assert isinstance(send(actor, "take", quota_id="q", amount=9), Rejection)  # would break it
    assert isinstance(send(actor, "open", quota_id="q", owner="x"), Rejection)  # exists
    assert isinstance(send(actor, "peek", quota_id="nobody"), Rejection)  # rejects_when
    assert isinstance(send(actor, "frobnicate", quota_id="q"), Rejection)  # unknown command
    assert isinstance(send(actor, "take", amount=1), Rejection)  # no identity
    assert store.stream_version("compute.quota:q") == 1


def test_a_redelivered_command_returns_the_first_answer_and_acts_once(store: Store) -> None:
    actor = Quota(store)
    send(actor, "open", quota_id="q", owner="ada")
    first = send(actor, "take", key="k-1", quota_id="q", amount=3)
    again = send(Quota(store), "take", key="k-1", quota_id="q", amount=3)
    assert again == first
    assert Quota(store).replay("q")[0]["gpus"] == 5


def test_builtin_compensations_undo_create_and_update(store: Store) -> None:
    actor = Quota(store)
    send(actor, "open", quota_id="q", owner="ada")
    before = send(actor, "rename", quota_id="q", owner="grace")["before"]
    send(actor, "_restore", quota_id="q", before=before)
    assert Quota(store).replay("q")[0]["owner"] == "ada"
    send(actor, "_delete", quota_id="q")
    assert Quota(store).replay("q")[2] is False
    assert send(actor, "_delete", quota_id="q") == {"quota_id": "q"}  # twice is harmless


def test_snapshots_are_taken_every_n_events_off_the_event_loop_and_equal_replay(
    tmp_path: Path,
) -> None:
    store = SnapshotThreads(str(tmp_path / "quota.db"))
    actor = Quota(store)
    send(actor, "open", quota_id="q", owner="ada")
    send(actor, "take", quota_id="q", amount=1)
    send(actor, "take", quota_id="q", amount=1)
    snapshot = store.load_snapshot("compute.quota:q")
    assert snapshot is not None and snapshot.version == 3
    assert snapshot.state == {"state": Quota(store).replay("q")[0], "exists": True}
    assert store.saved_on == [store.writer_thread().thread], "saved on the writer thread"
