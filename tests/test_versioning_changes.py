"""A spec change to a running system, classified: compatible, a new saga version, or unsafe
(refused by ``generate`` with the place and the fix, nothing written)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sagacrew.agents.blueprint import Blueprint
from sagacrew.agents.changes import Change
from sagacrew.agents.changes import classify_changes
from sagacrew.agents.spec import SpecErrors
from sagacrew.agents.spec import parse_spec
from sagacrew.agents.versions import keep_earlier
from sagacrew.agents.versions import saga_version
from sagacrew.crew.pipeline import design
from sagacrew.crew.pipeline import generate
from tests.cli_helpers import sagacrew
from tests.test_versioning_versions import ADDED
from tests.test_versioning_versions import ORDER

STATION = ORDER.replace(
    "          status: str\n        invariants:\n          - name: ticket_status_is_known",
    "          status: str\n          station: str\n        invariants:\n"
    "          - name: ticket_status_is_known",
).replace(
    "            params: [order_id]\n            sets: {status: pending}",
    "            params: [order_id]\n            sets: {status: pending, station: grill}",
)
"""The order spec with a ticket field every stored ``kitchen.ticket.created`` carries."""

UPCAST_STATION = ORDER.replace(
    "            params: [order_id]\n            sets: {status: pending}",
    "            params: [order_id]\n            sets: {status: pending}\n"
    "            event_version: 2\n"
    "            event_history:\n"
    "              - {from_version: 1, removed: [station]}",
)
"""The field removed again, with the upcaster that drops it from stored events."""


def blueprint(text: str) -> Blueprint:
    return design(parse_spec(text, "order_fulfilment.yaml"), "order_fulfilment.yaml")


def changes(old: str, new: str) -> list[Change]:
    before = blueprint(old)
    return classify_changes(before, keep_earlier(before, blueprint(new)))


def lines(found: list[Change]) -> list[str]:
    return [str(change) for change in found]


def test_the_same_spec_has_no_changes() -> None:
    assert changes(ORDER, ORDER) == []


def test_retry_and_timeout_tuning_is_compatible_and_keeps_the_version() -> None:
    tuned = ORDER.replace("deadline_s: 30", "deadline_s: 45").replace(
        "step_timeout_s: 2", "step_timeout_s: 3"
    )
    found = changes(ORDER, tuned)
    assert [c.kind for c in found] == ["compatible"]
    assert "deadline_s 30 → 45" in str(found[0])
    assert "timeout of step create_order 2s → 3s" in str(found[0])
    assert "applies to sagas in flight too" in str(found[0])
    before, after = blueprint(ORDER).sagas, blueprint(tuned).sagas
    assert before is not None and after is not None
    (old,), (new,) = before.sagas, after.sagas
    assert old.version == new.version == saga_version(new)


def test_descriptions_do_not_change_a_version() -> None:
    reworded = ORDER.replace(
        "description: Place an order and see it through to approval.",
        "description: Take an order.",
    )
    assert changes(ORDER, reworded) == []


def test_a_new_saga_and_a_new_field_are_compatible() -> None:
    grown = ORDER.replace(
        "          verified: bool\n", "          verified: bool\n          nickname: str\n"
    ).replace(
        "\nworkload:",
        "  check_consumer:\n"
        "    trigger: consumers.consumer.validate_order_for_consumer\n"
        "    steps:\n"
        "      - {name: validate, invoke: consumers.consumer.validate_order_for_consumer}\n"
        "\nworkload:",
    )
    found = lines(changes(ORDER, grown))
    assert "compatible: saga check_consumer added" in found
    assert any(
        line.startswith("compatible: field consumers.consumer.nickname added") for line in found
    )
    assert all(line.startswith("compatible: ") for line in found)


def test_a_step_added_after_the_pivot_needs_a_new_version() -> None:
    (change,) = changes(ORDER, ADDED)
    assert change.kind == "new_version"
    assert "step reconfirm_ticket added after approve_order (after the pivot)" in str(change)
    assert change.path == ("sagas", "create_order", "steps")


def test_renamed_and_moved_steps_need_a_new_version() -> None:
    renamed = ORDER.replace("      - name: validate_consumer\n", "      - name: check_consumer\n")
    assert "step validate_consumer renamed to check_consumer" in str(changes(ORDER, renamed)[0])
    moved = ORDER.replace(
        "      - name: confirm_ticket\n        invoke: kitchen.ticket.confirm_ticket\n"
        "      - name: approve_order\n        invoke: ordering.order.approve_order\n",
        "      - name: approve_order\n        invoke: ordering.order.approve_order\n"
        "      - name: confirm_ticket\n        invoke: kitchen.ticket.confirm_ticket\n",
    )
    found = changes(ORDER, moved)
    assert found[0].kind == "new_version"
    assert "moved" in str(found[0])


def test_a_changed_compensation_and_a_moved_pivot_need_a_new_version() -> None:
    custom = ORDER.replace(
        "      - name: create_order\n        invoke: ordering.order.create_order\n",
        "      - name: create_order\n        invoke: ordering.order.create_order\n"
        "        compensate_with: ordering.order.reject_order\n",
    )
    (change,) = changes(ORDER, custom)
    assert change.kind == "new_version"
    assert "compensation of step create_order changed (now ordering.order.reject_order)" in str(
        change
    )
    pivot = ORDER.replace(
        "        invoke: payment_gateway.authorize_card\n        pivot: true\n", ""
    )
    pivot = pivot.replace(
        "      - name: authorize_card\n",
        "      - name: authorize_card\n        invoke: payment_gateway.authorize_card\n",
    ).replace(
        "      - name: approve_order\n        invoke: ordering.order.approve_order\n",
        "      - name: approve_order\n        invoke: ordering.order.approve_order\n"
        "        pivot: true\n",
    )
    assert "pivot moved from authorize_card to approve_order" in str(changes(ORDER, pivot)[0])


def test_a_removed_field_that_stored_events_carry_is_unsafe_until_an_upcaster_drops_it() -> None:
    (change,) = [c for c in changes(STATION, ORDER) if c.kind == "unsafe"]
    assert "field kitchen.ticket.station removed" in change.message
    assert "kitchen.ticket.created v1" in change.message
    assert "event_version: 2" in change.fix and "removed: [station]" in change.fix
    assert change.path == (
        "contexts",
        "kitchen",
        "aggregates",
        "ticket",
        "commands",
        "create_ticket",
    )
    found = lines(changes(STATION, UPCAST_STATION))
    assert (
        "compatible: field kitchen.ticket.station removed "
        "(the upcasters drop it from stored events)" in found
    )
    assert all(not line.startswith("unsafe") for line in found)


def test_a_command_an_earlier_version_still_sends_cannot_be_removed() -> None:
    gone = ORDER.replace(
        "      - name: confirm_ticket\n        invoke: kitchen.ticket.confirm_ticket\n", ""
    ).replace(
        "          confirm_ticket:\n            kind: update\n"
        "            sets: {status: confirmed}\n            event: confirmed\n",
        "",
    )
    unsafe = [c for c in changes(ORDER, gone) if c.kind == "unsafe"]
    assert len(unsafe) == 1
    assert "kitchen.ticket.confirm_ticket is gone" in unsafe[0].message
    assert "--drop" in unsafe[0].fix


def test_generate_refuses_an_unsafe_change_with_one_line_and_writes_nothing(tmp_path: Path) -> None:
    spec, out = tmp_path / "order_fulfilment.yaml", tmp_path / "system"
    spec.write_text(STATION, "utf-8")
    generate(spec, out)
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    spec.write_text(ORDER, "utf-8")
    with pytest.raises(SpecErrors, match=r"unsafe change: field kitchen\.ticket\.station removed"):
        generate(spec, out)
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    done = sagacrew("generate", str(spec), "-o", str(out), "--no-flow", cwd=tmp_path)
    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"{spec}:") and "event_history" in line
    assert "Traceback" not in done.stderr
    spec.write_text(UPCAST_STATION, "utf-8")
    done = sagacrew("generate", str(spec), "-o", str(out), "--no-flow", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "compatible: field kitchen.ticket.station removed" in done.stdout
