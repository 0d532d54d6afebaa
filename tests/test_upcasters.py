"""Upcasters: events stored at an old version replay as the current version."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sagacrew.agents.generated import open_generated
from sagacrew.runtime import AggregateActor
from sagacrew.runtime import NewEvent
from sagacrew.runtime import Store
from sagacrew.runtime import StoreError
from sagacrew.runtime import open_store

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def account_actor(tmp_path: Path) -> Iterator[tuple[AggregateActor, Store]]:
    system = open_generated(ROOT / "generated" / "user_provisioning")
    store = open_store(f"sqlite://{tmp_path / 'old.db'}")
    actor_class = next(a for a in system.package.app.AGGREGATES if a.address == "accounts.account")
    yield actor_class(store), store
    store.close()


def store_old_event(store: Store, event: str, version: int, **payload: str) -> None:
    """``accounts.account.<event>`` at ``version`` as the first event of the account
    ``payload["account_id"]``."""
    stream = f"accounts.account:{payload['account_id']}"
    old = NewEvent(f"accounts.account.{event}", payload, "c", "c", event_version=version)
    store.append(stream, 0, [old])


def test_a_v1_event_replays_through_the_generated_upcaster(
    account_actor: tuple[AggregateActor, Store],
) -> None:
    actor, store = account_actor
    store_old_event(store, "created", 1, account_id="A-1", mail="ada@example.org", status="pending")
    state, version, exists = actor.replay("A-1")
    assert exists and version == 1
    assert state["email"] == "ada@example.org"
    assert state["locale"] == "en"
    assert "mail" not in state
    assert actor.broken_invariants(state) == []


def test_an_event_version_without_upcaster_is_a_clear_store_error(
    account_actor: tuple[AggregateActor, Store],
) -> None:
    actor, store = account_actor
    store_old_event(store, "activated", 0, account_id="A-2", status="active")
    with pytest.raises(StoreError) as error:
        actor.replay("A-2")
    message = str(error.value)
    assert "accounts.account:A-2" in message and "v0" in message
    assert "event_history" in message
    assert "\n" not in message
