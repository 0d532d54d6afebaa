"""Generation gap: the user's business rules survive regeneration; a spec change changes
only what it changed; the user's subclasses replace the generated bases at run time."""

from __future__ import annotations

import asyncio
import importlib
import shutil
import sys
from pathlib import Path

import pytest

from sagacrew.crew.pipeline import generate

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "examples" / "order_fulfilment.yaml"


def snapshot(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): p.read_text("utf-8")
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.suffix != ".svg" and "__pycache__" not in p.parts
    }


def forget_package(name: str) -> None:
    """Drop an imported generated package, so the next import reads its folder again."""
    for module in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
        del sys.modules[module]


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    copy = tmp_path / "order_fulfilment.yaml"
    shutil.copy(SPEC, copy)
    return copy


@pytest.fixture
def out(spec: Path, tmp_path: Path) -> Path:
    """The system generated from ``spec`` (a test may change the spec and generate again)."""
    folder = tmp_path / "system"
    generate(spec, folder, use_flow=False)
    return folder


def test_business_rules_file_is_created_once_and_never_overwritten(spec: Path, out: Path) -> None:
    rules = out / "order_fulfilment" / "business_rules.py"
    assert "this file is yours" in rules.read_text("utf-8")
    edited = rules.read_text("utf-8") + "\n\nMY_RULE = 'kept'\n"
    rules.write_text(edited, "utf-8")
    generate(spec, out, use_flow=False)
    assert rules.read_text("utf-8") == edited


def test_a_spec_change_changes_only_what_it_changed_and_removes_what_it_obsoleted(
    spec: Path, out: Path
) -> None:
    before = snapshot(out)
    spec.write_text(spec.read_text("utf-8").replace("deadline_s: 30", "deadline_s: 45"), "utf-8")
    generate(spec, out, use_flow=False)
    after = snapshot(out)
    changed = sorted(p for p in after if after[p] != before.get(p))
    assert changed == [
        "README.md",
        "blueprint.json",
        "flowcharts/create_order.dot",
        "flowcharts/create_order.mmd",
        "order_fulfilment/sagas.py",
    ]
    spec.write_text(
        spec.read_text("utf-8").replace("create_order:\n    trigger", "place_order:\n    trigger"),
        "utf-8",
    )
    generate(spec, out, use_flow=False)
    assert not (out / "flowcharts" / "create_order.dot").exists()
    assert not (out / "flowcharts" / "create_order.svg").exists()
    assert (out / "flowcharts" / "place_order.dot").exists()


def test_a_user_subclass_replaces_the_generated_actor_and_its_rule_holds(
    out: Path, tmp_path: Path
) -> None:
    rules = out / "order_fulfilment" / "business_rules.py"
    rules.write_text(
        rules.read_text("utf-8")
        .replace(
            '''class OrderActor(OrderActorBase):
    """ordering.order: the spec's rules, plus any you add here."""''',
            '''class OrderActor(OrderActorBase):
    """Orders above 5 cents need a manual review, so the saga must not create them."""

    def broken_invariants(self, state: Mapping[str, Any]) -> list[str]:
        broken = super().broken_invariants(state)
        if state["total_cents"] > 5:
            broken.append("small_orders_only")
        return broken''',
        )
        .replace(
            "from __future__ import annotations\n",
            "from __future__ import annotations\n\nfrom collections.abc import Mapping\n"
            "from typing import Any\n",
        ),
        "utf-8",
    )
    forget_package("order_fulfilment")
    sys.path.insert(0, str(out))
    try:
        package = importlib.import_module("order_fulfilment")
        app = package.app
        assert app.AGGREGATES[0].__name__ == "OrderActor"
        assert app.AGGREGATES[0].__module__ == "order_fulfilment.business_rules"

        async def go() -> tuple[str, str]:
            async with app.build_system(f"sqlite://{tmp_path / 's.db'}") as system:
                big = await system.run_saga(
                    "create_order",
                    {"order_id": "O-1", "consumer_id": "C-1", "total_cents": 9, "ticket_id": "T-1"},
                )
                small = await system.run_saga(
                    "create_order",
                    {"order_id": "O-2", "consumer_id": "C-2", "total_cents": 3, "ticket_id": "T-2"},
                )
            return str(big.state), str(small.state)

        assert asyncio.run(go()) == ("compensated", "completed")
    finally:
        sys.path.remove(str(out))
        forget_package("order_fulfilment")
