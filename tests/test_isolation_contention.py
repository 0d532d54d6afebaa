"""Sagas over shared aggregates: the bank transfer keeps money conserved under contention,
timeouts and late settlements on both stores; the same spec written with a caller-computed
balance is warned about at generate time and caught by the contention checks; a create's
compensation is not taken for a forward delete."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from sagacrew.agents.generated import open_generated
from sagacrew.agents.spec import SpecError
from sagacrew.agents.spec import load_spec
from sagacrew.agents.validator.verification.contention import ContentionPlan
from sagacrew.agents.validator.verification.contention import contention_checks
from sagacrew.agents.validator.verification.contention import contention_store_url
from sagacrew.agents.validator.verification.contention import run_contention
from sagacrew.agents.validator.verification.store_verdict import system_invariant_checks
from sagacrew.crew.pipeline import generate
from sagacrew.runtime import SeededFaults
from sagacrew.runtime import open_store
from sagacrew.runtime.testing import failing_checks

ROOT = Path(__file__).resolve().parents[1]
BANK = ROOT / "examples" / "bank_transfer.yaml"

OLD_WAY = (
    BANK.read_text("utf-8")
    .replace("system: bank_transfer", "system: bank_old_way")
    .replace(
        """          debit_account:
            kind: update
            params: [amount_cents]
            delta: {balance_cents: -amount_cents}""",
        """          debit_account:
            kind: update
            params: [balance_cents]""",
    )
)


@pytest.mark.slow
def test_200_concurrent_transfers_over_3_accounts_conserve_money(store_url: str) -> None:
    system = open_generated(ROOT / "generated" / "bank_transfer")
    url = contention_store_url(store_url)
    plan = ContentionPlan(sagas_per_type=200, shared_ids=3, late_completion_rate=0.1)
    run = run_contention(system, url, plan)
    assert run.by_state.get("compensated", 0) > 0 and run.by_state.get("completed", 0) > 0
    store = open_store(url)
    try:
        checks = contention_checks(system, store) + system_invariant_checks(system, store)
        assert system.blueprint.validation is not None
        queries = [q.model_dump() for q in system.blueprint.validation.queries]
        failing = failing_checks(store, queries, now=time.time() + 3600)
        accounts = store.query(
            "SELECT COUNT(DISTINCT stream_id) FROM events WHERE stream_id LIKE ?",
            ("banking.account:%",),
        )
    finally:
        store.close()
    assert {check.name: check.violations for check in checks} == {
        "no_lost_update": [],
        "no_orphaned_external_work": [],
        "system_invariant_money_is_conserved": [],
        "system_invariant_every_transfer_has_an_account": [],
    }
    assert accounts == [(3,)]
    assert failing == {}  # late compensations are not taken for out-of-order ones
    conserved = next(c for c in checks if c.name == "system_invariant_money_is_conserved")
    assert conserved.subjects > 3  # the accounts and the credits that stood were summed


def test_a_caller_computed_balance_is_warned_about_at_generate_time(tmp_path: Path) -> None:
    spec = tmp_path / "bank_old_way.yaml"
    spec.write_text(OLD_WAY, "utf-8")
    warnings: list[SpecError] = []
    load_spec(spec, warnings)
    [warning] = [w for w in warnings if "balance_cents" in w.message]
    assert "debit_account" in warning.message and "lose each other's update" in warning.message
    assert "delta: {balance_cents: -amount}" in warning.fix
    assert warning.line > 1


@pytest.mark.slow
def test_a_caller_computed_balance_fails_the_contention_checks(tmp_path: Path) -> None:
    spec = tmp_path / "bank_transfer.yaml"
    spec.write_text(OLD_WAY, "utf-8")
    generate(spec, tmp_path / "out", use_flow=False)
    system = open_generated(tmp_path / "out")
    url = contention_store_url(f"sqlite://{tmp_path / 'old.db'}")
    run_contention(system, url, ContentionPlan(sagas_per_type=30, lost_reply_rate=0.0))
    store = open_store(url)
    try:
        checks = {c.name: c for c in system_invariant_checks(system, store)}
    finally:
        store.close()
    broken = checks["system_invariant_money_is_conserved"]
    assert broken.violation_count == 1
    assert "money_is_conserved: the conserved sum changed by" in broken.violations[0]


DELETE_SPEC = (Path(__file__).parent / "data" / "specs" / "shelf.yaml").read_text("utf-8")


def test_a_creates_compensation_is_not_a_violation_of_the_delete_check(tmp_path: Path) -> None:
    spec = tmp_path / "shelf.yaml"
    spec.write_text(DELETE_SPEC, "utf-8")
    generate(spec, tmp_path / "out", use_flow=False)
    system = open_generated(tmp_path / "out")
    app = system.package.app
    url = f"sqlite://{tmp_path / 'shelf.db'}"
    faults = SeededFaults(
        seed=1, step_failure_rate=0.0, business_failure_rate=0.0, compensation_failure_rate=0.0
    )

    async def go() -> str:
        async with app.build_system(url, faults=faults) as saga_system:
            data = {"item_id": "i-1", "name": "lamp", "gate_id": "g-1"}
            result = await saga_system.run_saga("churn", data)
            return str(result.state)

    assert asyncio.run(go()) == "compensated"
    assert system.blueprint.validation is not None
    queries = [q.model_dump() for q in system.blueprint.validation.queries]
    assert "stock_item_remove_item_undone" in {q["name"] for q in queries}
    store = open_store(url)
    try:
        kinds = [e.event_type for e in store.read_stream("stock.item:i-1")]
        failing = failing_checks(store, queries, now=0.0)
    finally:
        store.close()
    assert kinds == [
        "stock.item.created",
        "stock.item.deleted",
        "stock.item.recreated",
        "stock.item.deleted",
    ]
    assert failing == {}
