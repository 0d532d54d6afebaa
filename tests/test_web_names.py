"""What the page shows of a flowchart speaks the operator's words: a compensation is
"undo <step>", and the runtime's built-in commands (``_delete``, ``_restore``) are named by
their kind, never by their internal name."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from test_flowchart import _step

from sagacrew.agents.blueprint import CompensationKind
from sagacrew.agents.flowchart import build_graph
from sagacrew.agents.spec.model import CommandKind

ROOT = Path(__file__).resolve().parent.parent
INTERNAL = re.compile(r"\b_[a-z]+\b|\.\_[a-z]")


def undo_lines(*steps_undo: tuple[CompensationKind, str]) -> dict[str, tuple[str, ...]]:
    steps = [
        _step(i, f"step{i}_name", "ctx.thing", f"do_{i}", CommandKind.CREATE, undo=undo)
        for i, undo in enumerate(steps_undo)
    ]
    steps.append(_step(len(steps), "last", "ctx.thing", "finish", CommandKind.UPDATE))
    graph = build_graph("s", steps, deadline_s=30)
    return {
        node: attrs["lines"] for node, attrs in graph.nodes(data=True) if node.startswith("undo_")
    }


def test_an_undo_is_named_after_its_step() -> None:
    lines = undo_lines(("delete", "_delete"), ("release", "release_it"))
    assert lines["undo_1"][0] == "undo step0_name"
    assert lines["undo_2"][0] == "undo step1_name"


def test_a_built_in_undo_is_named_by_its_kind_and_a_declared_one_by_its_command() -> None:
    lines = undo_lines(("delete", "_delete"), ("restore", "_restore"), ("release", "release_it"))
    assert lines["undo_1"][1] == "delete: ctx.thing"
    assert lines["undo_2"][1] == "restore: ctx.thing"
    assert lines["undo_3"][1] == "release: ctx.thing.release_it"


@pytest.mark.parametrize(
    "chart", sorted((ROOT / "generated").glob("*/flowcharts/*.svg")), ids=lambda p: p.stem
)
def test_generated_flowcharts_show_no_internal_command_names(chart: Path) -> None:
    text = " ".join(re.findall(r">([^<>]+)</text>", chart.read_text("utf-8")))
    assert not INTERNAL.search(text), INTERNAL.search(text)
    assert "compensate " not in text
