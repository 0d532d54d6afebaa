"""Countermeasures for the missing I of sagas, in the aggregate actor: commutative updates
(``delta``), undo by the forward command's key, and before-image restores that refuse to
overwrite another writer's change (a lost update prevented, reported as a conflict)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import pytest
from async_helpers import send

from sagacrew.runtime import AggregateActor, CommandHandler, Rejection, open_store
from sagacrew.runtime.store import Store


class Account(AggregateActor):
    address: ClassVar[str] = "banking.account"
    identity: ClassVar[str] = "account_id"
    fields: ClassVar[Mapping[str, str]] = {
        "account_id": "str",
        "balance_cents": "int",
        "status": "str",
    }
    initial: ClassVar[Mapping[str, Any]] = {"balance_cents": 1000, "status": "open"}
    commands: ClassVar[Mapping[str, CommandHandler]] = {
        "debit": CommandHandler(
            kind="update",
            event="banking.account.debited",
            params=("amount_cents",),
            delta={"balance_cents": "-amount_cents"},
        ),
        "credit": CommandHandler(
            kind="update",
            event="banking.account.credited",
            params=("amount_cents",),
            delta={"balance_cents": "+amount_cents"},
        ),
        "fee": CommandHandler(
            kind="update", event="banking.account.charged", delta={"balance_cents": -5}
        ),
        "freeze": CommandHandler(
            kind="update", event="banking.account.frozen", sets={"status": "frozen"}
        ),
        "set_balance": CommandHandler(
            kind="update", event="banking.account.balance_set", params=("balance_cents",)
        ),
    }

    def broken_invariants(self, state: Mapping[str, Any]) -> list[str]:
        return ["balance_is_not_negative"] if state["balance_cents"] < 0 else []


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return open_store(f"sqlite://{tmp_path / 'bank.db'}")


def balance(store: Store, account: str = "a") -> int:
    return int(Account(store).replay(account)[0]["balance_cents"])


def test_a_delta_moves_the_current_value_and_the_event_records_the_change(store: Store) -> None:
    actor = Account(store)
    send(actor, "debit", account_id="a", amount_cents=300)
    send(actor, "credit", account_id="a", amount_cents=50)
    send(actor, "fee", account_id="a")
    assert balance(store) == 1000 - 300 + 50 - 5
    events = store.read_stream("banking.account:a")
    assert events[0].payload["delta"] == {"balance_cents": -300}
    assert "amount_cents" not in Account(store).replay("a")[0]  # a parameter, not state


def test_a_delta_that_would_break_an_invariant_now_is_refused(store: Store) -> None:
    actor = Account(store)
    send(actor, "debit", account_id="a", amount_cents=800)
    refused = send(actor, "debit", account_id="a", amount_cents=300)
    assert isinstance(refused, Rejection) and "balance_is_not_negative" in refused.reason
    assert balance(store) == 200


def test_a_non_numeric_delta_parameter_is_refused(store: Store) -> None:
    refused = send(Account(store), "debit", account_id="a", amount_cents="lots")
    assert isinstance(refused, Rejection) and "must be a number" in refused.reason


def test_undoing_a_delta_keeps_a_concurrent_writers_change(store: Store) -> None:
    actor = Account(store)
    send(actor, "debit", key="saga-1:0:forward", account_id="a", amount_cents=500)
    send(actor, "debit", key="saga-2:0:forward", account_id="a", amount_cents=200)
    send(actor, "_restore", key="saga-1:0:compensation", account_id="a", undoes="saga-1:0:forward")
    assert balance(store) == 1000 - 200  # saga 2's debit survives saga 1's compensation


def test_an_undo_acts_once_whichever_message_asks(store: Store) -> None:
    actor = Account(store)
    send(actor, "debit", key="s:0:forward", account_id="a", amount_cents=100)
    first = send(actor, "_restore", key="s:0:compensation", account_id="a", undoes="s:0:forward")
    late = send(actor, "_restore", key="s:0:late", account_id="a", undoes="s:0:forward")
    assert late == first
    assert balance(store) == 1000


def test_undoing_a_command_that_never_acted_changes_nothing(store: Store) -> None:
    actor = Account(store)
    reply = send(actor, "_restore", key="s:0:compensation", account_id="a", undoes="s:0:forward")
    assert reply["undone"] is False
    send(actor, "_delete", key="t:0:compensation", account_id="a", undoes="t:0:forward")
    assert store.stream_version("banking.account:a") == 0


def test_a_before_image_restore_over_another_writers_change_is_a_conflict(store: Store) -> None:
    actor = Account(store)
    send(actor, "set_balance", key="s1:0:forward", account_id="a", balance_cents=500)
    send(actor, "set_balance", key="s2:0:forward", account_id="a", balance_cents=300)
    refused = send(actor, "_restore", key="s1:0:c", account_id="a", undoes="s1:0:forward")
    assert isinstance(refused, Rejection) and refused.conflict
    assert "lost update prevented" in refused.reason and "version 1" in refused.reason
    assert "delta" in refused.reason  # names the fix
    assert balance(store) == 300  # nothing overwritten


def test_a_before_image_restore_of_untouched_fields_still_restores(store: Store) -> None:
    actor = Account(store)
    send(actor, "freeze", key="s1:0:forward", account_id="a")
    send(actor, "debit", key="s2:0:forward", account_id="a", amount_cents=100)
    send(actor, "_restore", key="s1:0:compensation", account_id="a", undoes="s1:0:forward")
    state = Account(store).replay("a")[0]
    assert (state["status"], state["balance_cents"]) == ("open", 900)


def test_an_undo_that_would_break_an_invariant_is_a_conflict(store: Store) -> None:
    actor = Account(store)
    send(actor, "credit", key="s1:0:forward", account_id="a", amount_cents=500)
    send(actor, "debit", key="s2:0:forward", account_id="a", amount_cents=1400)
    refused = send(actor, "_restore", key="s1:0:c", account_id="a", undoes="s1:0:forward")
    assert isinstance(refused, Rejection) and refused.conflict
    assert balance(store) == 100


def test_replay_of_undone_deltas_equals_the_live_state(store: Store) -> None:
    actor = Account(store)
    for n in range(1, 6):
        send(actor, "debit", key=f"s{n}:0:forward", account_id="a", amount_cents=10 * n)
    for n in (2, 4):
        send(actor, "_restore", key=f"s{n}:0:c", account_id="a", undoes=f"s{n}:0:forward")
    live = actor._instances["a"].state
    assert Account(store).replay("a")[0] == live
    assert live["balance_cents"] == 1000 - (10 + 30 + 50)
