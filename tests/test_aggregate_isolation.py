"""Countermeasures for the missing I of sagas, in the aggregate actor: commutative updates
(``delta``), undo by the forward command's key, and before-image restores that refuse to
overwrite another writer's change (a lost update prevented, reported as a conflict)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any
from typing import ClassVar

import pytest
from async_helpers import send
from bank_example import ACCOUNT

from sagacrew.runtime import AggregateActor
from sagacrew.runtime import CommandHandler
from sagacrew.runtime import Invariant
from sagacrew.runtime import Rejection
from sagacrew.runtime import open_store
from sagacrew.runtime.store import Store


class Account(AggregateActor):
    """The bank example's account (its commutative ``debit_account`` and ``credit_account``,
    its invariant) with 1000 cents to start, a status, a constant fee, a freeze and a plain
    (before-image) set of the balance."""

    address: ClassVar[str] = ACCOUNT.address
    identity: ClassVar[str] = ACCOUNT.identity
    fields: ClassVar[Mapping[str, str]] = {**ACCOUNT.fields, "status": "str"}
    initial: ClassVar[Mapping[str, Any]] = {"balance_cents": 1000, "status": "open"}
    commands: ClassVar[Mapping[str, CommandHandler]] = {
        **ACCOUNT.commands,
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
    invariants: ClassVar[Mapping[str, Invariant]] = ACCOUNT.invariants


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return open_store(f"sqlite://{tmp_path / 'bank.db'}")


def balance(store: Store, account: str = "a") -> int:
    return int(Account(store).replay(account)[0]["balance_cents"])


def test_a_delta_moves_the_current_value_and_the_event_records_the_change(store: Store) -> None:
    actor = Account(store)
    send(actor, "debit_account", account_id="a", amount_cents=300)
    send(actor, "credit_account", account_id="a", amount_cents=50)
    send(actor, "fee", account_id="a")
    assert balance(store) == 1000 - 300 + 50 - 5
    events = store.read_stream("banking.account:a")
    assert events[0].payload["delta"] == {"balance_cents": -300}
    assert "amount_cents" not in Account(store).replay("a")[0]  # a parameter, not state


def test_a_delta_that_would_break_an_invariant_now_is_refused(store: Store) -> None:
    actor = Account(store)
    send(actor, "debit_account", account_id="a", amount_cents=800)
    refused = send(actor, "debit_account", account_id="a", amount_cents=300)
    assert isinstance(refused, Rejection) and "balance_is_not_negative" in refused.reason
    assert balance(store) == 200


def test_a_non_numeric_delta_parameter_is_refused(store: Store) -> None:
    refused = send(Account(store), "debit_account", account_id="a", amount_cents="lots")
    assert isinstance(refused, Rejection) and "must be a number" in refused.reason


def test_undoing_a_delta_keeps_a_concurrent_writers_change(store: Store) -> None:
    actor = Account(store)
    send(actor, "debit_account", key="saga-1:0:forward", account_id="a", amount_cents=500)
    send(actor, "debit_account", key="saga-2:0:forward", account_id="a", amount_cents=200)
    send(actor, "_restore", key="saga-1:0:compensation", account_id="a", undoes="saga-1:0:forward")
    assert balance(store) == 1000 - 200  # saga 2's debit survives saga 1's compensation


def test_an_undo_acts_once_whichever_message_asks(store: Store) -> None:
    actor = Account(store)
    send(actor, "debit_account", key="s:0:forward", account_id="a", amount_cents=100)
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


def test_a_command_arriving_after_its_undo_does_not_act(store: Store) -> None:
    # Its saga gave up on it and compensated; it arrives late (a frozen worker's send).
    undo = send(Account(store), "_restore", key="s:0:c", account_id="a", undoes="s:0:forward")
    late = send(Account(store), "debit_account", key="s:0:forward", account_id="a", amount_cents=1)
    assert undo["undone"] is False and late["cancelled"] is True
    assert balance(store) == 1000
    again = send(Account(store), "_restore", key="s:0:c2", account_id="a", undoes="s:0:forward")
    assert again == undo


def test_a_before_image_restore_of_untouched_fields_still_restores(store: Store) -> None:
    actor = Account(store)
    send(actor, "freeze", key="s1:0:forward", account_id="a")
    send(actor, "debit_account", key="s2:0:forward", account_id="a", amount_cents=100)
    send(actor, "_restore", key="s1:0:compensation", account_id="a", undoes="s1:0:forward")
    state = Account(store).replay("a")[0]
    assert (state["status"], state["balance_cents"]) == ("open", 900)


@pytest.mark.parametrize(
    ("earlier", "later", "reason", "balance_cents"),
    [
        pytest.param(
            ("set_balance", {"balance_cents": 500}),
            ("set_balance", {"balance_cents": 300}),
            ("lost update prevented", "version 1", "delta"),  # "delta" names the fix
            300,
            id="before_image_over_another_writers_change",
        ),
        pytest.param(
            ("credit_account", {"amount_cents": 500}),
            ("debit_account", {"amount_cents": 1400}),
            ("balance_is_not_negative",),
            100,
            id="undo_that_would_break_an_invariant",
        ),
    ],
)
def test_an_undo_that_cannot_apply_is_a_conflict_and_changes_nothing(
    store: Store,
    earlier: tuple[str, dict[str, Any]],
    later: tuple[str, dict[str, Any]],
    reason: tuple[str, ...],
    balance_cents: int,
) -> None:
    """The undo of ``earlier`` after another writer's ``later``: refused as a conflict whose
    reason says why, and nothing is overwritten."""
    actor = Account(store)
    send(actor, earlier[0], key="s1:0:forward", account_id="a", **earlier[1])
    send(actor, later[0], key="s2:0:forward", account_id="a", **later[1])
    refused = send(actor, "_restore", key="s1:0:c", account_id="a", undoes="s1:0:forward")
    assert isinstance(refused, Rejection) and refused.conflict
    assert all(part in refused.reason for part in reason), refused.reason
    assert balance(store) == balance_cents


def test_replay_of_undone_deltas_equals_the_live_state(store: Store) -> None:
    actor = Account(store)
    for n in range(1, 6):
        send(actor, "debit_account", key=f"s{n}:0:forward", account_id="a", amount_cents=10 * n)
    for n in (2, 4):
        send(actor, "_restore", key=f"s{n}:0:c", account_id="a", undoes=f"s{n}:0:forward")
    live = actor._instances["a"].state
    assert Account(store).replay("a")[0] == live
    assert live["balance_cents"] == 1000 - (10 + 30 + 50)
