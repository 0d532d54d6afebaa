"""Upcasters: events stored at an old version replay as the current version."""

from __future__ import annotations

from pathlib import Path

import pytest

from sagacrew.agents.generated import open_generated
from sagacrew.runtime import NewEvent, StoreError, open_store

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def account_actor(tmp_path: Path):  # type: ignore[no-untyped-def]
    system = open_generated(ROOT / "generated" / "user_provisioning")
    store = open_store(f"sqlite://{tmp_path / 'old.db'}")
    actor_class = next(a for a in system.package.app.AGGREGATES if a.address == "accounts.account")
    yield actor_class(store), store
    store.close()


def test_a_v1_event_replays_through_the_generated_upcaster(account_actor) -> None:  # type: ignore[no-untyped-def]
    actor, store = account_actor
    store.append(
        "accounts.account:A-1",
        0,
        [
            NewEvent(
                event_type="accounts.account.created",
                event_version=1,
                payload={"account_id": "A-1", "mail": "ada@example.org", "status": "pending"},
                correlation_id="c",
                causation_id="c",
            )
        ],
    )
    state, version, exists = actor.replay("A-1")
    assert exists and version == 1
    assert state["email"] == "ada@example.org"
    assert state["locale"] == "en"
    assert "mail" not in state
    assert actor.broken_invariants(state) == []


def test_an_event_version_without_upcaster_is_a_clear_store_error(account_actor) -> None:  # type: ignore[no-untyped-def]
    actor, store = account_actor
    store.append(
        "accounts.account:A-2",
        0,
        [
            NewEvent(
                event_type="accounts.account.activated",
                event_version=0,
                payload={"account_id": "A-2", "status": "active"},
                correlation_id="c",
                causation_id="c",
            )
        ],
    )
    with pytest.raises(StoreError) as error:
        actor.replay("A-2")
    message = str(error.value)
    assert "accounts.account:A-2" in message and "v0" in message
    assert "event_history" in message
    assert "\n" not in message
