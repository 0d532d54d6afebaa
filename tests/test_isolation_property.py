"""Property: any interleaving of concurrent sagas over shared accounts, each debiting
(a commutative update) and then completing or compensating, with random faults (a lost
reply, so the debit's outcome is unknown; a debit that never arrived; an undo delivered
twice), ends with the invariant true and no update lost: every balance equals its initial
value minus exactly the debits of the sagas that completed."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from bank_example import ACCOUNT
from bank_example import INITIAL_BALANCE_CENTS
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from sagacrew.runtime import Envelope
from sagacrew.runtime import Rejection
from sagacrew.runtime import open_store

# A saga: (account, amount, outcome, fault). outcome: complete or compensate.
# fault: none | lost_reply (acted, the saga does not know) | never_arrived | undo_twice.
SAGAS = st.lists(
    st.tuples(
        st.integers(0, 2),
        st.integers(1, INITIAL_BALANCE_CENTS * 6 // 10),  # up to 60% of a balance
        st.sampled_from(["complete", "compensate"]),
        st.sampled_from(["none", "lost_reply", "never_arrived", "undo_twice"]),
    ),
    min_size=1,
    max_size=25,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(sagas=SAGAS, order=st.randoms(use_true_random=False))
def test_interleaved_sagas_keep_invariants_and_lose_no_update(
    tmp_path_factory: Any, sagas: list[tuple[int, int, str, str]], order: Any
) -> None:
    store = open_store(f"sqlite://{Path(tmp_path_factory.mktemp('p')) / 'bank.db'}")
    actor = ACCOUNT(store)

    def send(name: str, key: str, **payload: Any) -> Any:
        envelope = Envelope.origin("test", {}).caused(name, payload, idempotency_key=key)
        return asyncio.run(actor.receive(envelope))

    # Each saga is two moves, its forward debit then its end (undo, or nothing);
    # interleave all moves at random, keeping each saga's own order.
    moves = [(n, phase) for n in range(len(sagas)) for phase in ("forward", "end")]
    order.shuffle(moves)
    forwarded: set[int] = set()
    sequence: list[tuple[int, str]] = []
    for n, phase in moves:
        if phase == "end" and n not in forwarded:
            continue  # replayed right after its forward below
        sequence.append((n, phase))
        if phase == "forward":
            forwarded.add(n)
            if (n, "end") in moves[: moves.index((n, "forward"))]:
                sequence.append((n, "end"))
    stands: dict[int, bool] = {}
    for n, phase in sequence:
        account, amount, outcome, fault = sagas[n]
        key = f"s{n}:0:forward"
        if phase == "forward":
            if fault == "never_arrived":
                stands[n] = False
            else:
                reply = send("debit_account", key, account_id=f"a{account}", amount_cents=amount)
                stands[n] = not isinstance(reply, Rejection)
            continue
        # A saga whose debit's outcome it does not know (lost reply, never arrived)
        # compensates it: the undo names the debit's key and is a no-op if it never acted.
        unknown = fault in ("lost_reply", "never_arrived")
        if outcome == "compensate" or unknown:
            for attempt in range(2 if fault == "undo_twice" else 1):
                send("_restore", f"s{n}:0:c{attempt}", account_id=f"a{account}", undoes=key)
            stands[n] = False
    for account in range(3):
        state, _, _ = ACCOUNT(store).replay(f"a{account}")
        kept = sum(
            amount for n, (acc, amount, _, _) in enumerate(sagas) if acc == account and stands[n]
        )
        assert state["balance_cents"] == INITIAL_BALANCE_CENTS - kept
        assert state["balance_cents"] >= 0
    store.close()
