"""The generated ``bank_transfer`` example system's account aggregate, as the isolation tests
drive it: ``banking.account``, a balance moved by commutative ``debit_account`` and
``credit_account`` commands (``delta``), with the invariant ``balance_is_not_negative``."""

from __future__ import annotations

from pathlib import Path

from sagacrew.runtime import AggregateActor
from sagacrew.runtime import load_system

SYSTEM_DIR = Path(__file__).resolve().parent.parent / "generated" / "bank_transfer"
ACCOUNT: type[AggregateActor] = next(
    aggregate
    for aggregate in load_system(SYSTEM_DIR).definition.aggregates
    if aggregate.address == "banking.account"
)
"""The account aggregate as the example system runs it (its business_rules subclass)."""

INITIAL_BALANCE_CENTS = int(ACCOUNT.initial["balance_cents"])
"""An account's balance before its first command."""
