"""Saga flowcharts: graph shape, DOT and Mermaid text, SVG rendering."""

from __future__ import annotations

import re
import shutil
import subprocess
from itertools import pairwise
from pathlib import Path

import pytest

from sagacrew.agents import flowchart_text
from sagacrew.agents.blueprint import Compensation
from sagacrew.agents.blueprint import CompensationKind
from sagacrew.agents.blueprint import StepSpec
from sagacrew.agents.flowchart import DOT_MISSING_HINT
from sagacrew.agents.flowchart import FlowchartError
from sagacrew.agents.flowchart import build_flowchart
from sagacrew.agents.flowchart import build_graph
from sagacrew.agents.flowchart import dot_available
from sagacrew.agents.flowchart import render_svg
from sagacrew.agents.spec.model import CommandKind
from sagacrew.agents.spec.model import RetryPolicy

RETRY = RetryPolicy(max_attempts=4)


def _step(
    index: int,
    name: str,
    target: str,
    command: str,
    kind: CommandKind,
    *,
    undo: tuple[CompensationKind, str] | None = None,
    pivot: bool = False,
    after_pivot: bool = False,
    completion_event: str | None = None,
) -> StepSpec:
    compensation = (
        Compensation(kind=undo[0], target=target, command=undo[1], description="")
        if undo is not None
        else None
    )
    return StepSpec(
        index=index,
        name=name,
        invoke=f"{target}.{command}",
        target=target,
        command=command,
        kind=kind,
        pivot=pivot,
        compensatable=compensation is not None,
        retriable=after_pivot,
        compensation=compensation,
        timeout_s=2.0,
        retry=RETRY,
        completion_event=completion_event,
        description="",
    )


def ftgo_steps() -> list[StepSpec]:
    """The FTGO CreateOrderSaga: query at 2, pivot (external with undo) at 4."""
    return [
        _step(
            0, "create_order", "ordering.order", "create_order", CommandKind.CREATE,
            undo=("delete", "delete_order"),
        ),
        _step(
            1, "validate_consumer", "consumers.consumer", "validate_order_for_consumer",
            CommandKind.QUERY,
        ),
        _step(
            2, "create_ticket", "kitchen.ticket", "create_ticket", CommandKind.CREATE,
            undo=("delete", "delete_ticket"),
        ),
        _step(
            3, "authorize_card", "payment_gateway", "authorize_card", CommandKind.EXTERNAL,
            undo=("undo", "void_authorization"), pivot=True,
        ),
        _step(
            4, "confirm_ticket", "kitchen.ticket", "confirm_ticket", CommandKind.UPDATE,
            undo=("restore", "restore_ticket"), after_pivot=True,
            completion_event="kitchen.ticket.confirmed",
        ),
        _step(
            5, "approve_order", "ordering.order", "approve_order", CommandKind.UPDATE,
            undo=("restore", "restore_order"), after_pivot=True,
        ),
    ]  # fmt: skip


def _edges(steps: list[StepSpec], kind: str) -> set[tuple[str, str]]:
    graph = build_graph("create_order", steps, deadline_s=30.0)
    return {(u, v) for u, v, data in graph.edges(data=True) if data["kind"] == kind}


def test_ftgo_graph_has_steps_reachable_compensations_and_terminal_states() -> None:
    graph = build_graph("create_order", ftgo_steps(), deadline_s=30.0)

    assert set(graph.nodes) == {
        "start",
        *(f"step_{i}" for i in range(1, 7)),
        "undo_1",
        "undo_3",
        "completed",
        "compensated",
        "compensation_failed",
        "stalled",
    }
    assert graph.nodes["step_4"]["role"] == "pivot"
    assert graph.nodes["step_2"]["role"] == "query"
    assert graph.nodes["undo_3"]["step"] == "create_ticket"


FORWARD = ("start", "step_1", "step_2", "step_3", "step_4", "step_5", "step_6", "completed")


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("forward", set(pairwise(FORWARD))),
        (
            "failure",
            {
                ("step_1", "compensated"),
                ("step_2", "undo_1"),
                ("step_3", "undo_1"),
                ("step_4", "undo_3"),
            },
        ),
        ("compensation", {("undo_3", "undo_1"), ("undo_1", "compensated")}),
    ],
    ids=[
        "forward_edges_follow_step_order_to_completed",
        "failure_up_to_pivot_goes_to_compensation_of_previous_done_step",
        "compensations_run_in_reverse_order_skipping_the_query_step",
    ],
)
def test_edges_of_a_kind(kind: str, expected: set[tuple[str, str]]) -> None:
    assert _edges(ftgo_steps(), kind) == expected


def test_every_compensation_dead_letters_after_its_retry_attempts() -> None:
    graph = build_graph(
        "create_order",
        ftgo_steps(),
        deadline_s=30.0,
        compensation_retry=RetryPolicy(max_attempts=5),
    )
    dead = {(u, v): d["label"] for u, v, d in graph.edges(data=True) if d["kind"] == "dead_letter"}
    assert dead == {
        ("undo_1", "compensation_failed"): "after 5 attempts",
        ("undo_3", "compensation_failed"): "after 5 attempts",
    }


def test_steps_after_pivot_retry_until_deadline_then_stall() -> None:
    graph = build_graph("create_order", ftgo_steps(), deadline_s=30.0)
    retries = {(u, v): d["label"] for u, v, d in graph.edges(data=True) if d["kind"] == "retry"}
    stalls = {(u, v): d["label"] for u, v, d in graph.edges(data=True) if d["kind"] == "stall"}

    assert retries == {
        ("step_5", "step_5"): "retry until deadline 30s",
        ("step_6", "step_6"): "retry until deadline 30s",
    }
    assert stalls == {
        ("step_5", "stalled"): "deadline 30s passed",
        ("step_6", "stalled"): "deadline 30s passed",
    }


def test_every_node_is_reachable_from_start() -> None:
    import networkx as nx

    graph = build_graph("create_order", ftgo_steps(), deadline_s=30.0)
    assert nx.descendants(graph, "start") | {"start"} == set(graph.nodes)


def test_saga_without_pivot_compensates_from_every_step_and_never_stalls() -> None:
    steps = [s.model_copy(update={"pivot": False}) for s in ftgo_steps()[:4]]
    graph = build_graph("no_pivot", steps, deadline_s=10.0)

    assert "stalled" not in graph.nodes
    assert not [e for e in graph.edges(data=True) if e[2]["kind"] in ("retry", "stall")]
    failures = {(u, v) for u, v, d in graph.edges(data=True) if d["kind"] == "failure"}
    assert ("step_4", "undo_3") in failures
    assert "undo_4" not in graph.nodes  # the last step's undo is never needed


def test_single_query_step_has_no_dead_letter_state() -> None:
    steps = [_step(0, "look", "a.b", "look", CommandKind.QUERY)]
    graph = build_graph("q", steps, deadline_s=1.0)

    assert set(graph.nodes) == {"start", "step_1", "completed", "compensated"}


def test_dot_marks_pivot_query_annotations_and_completion_event() -> None:
    dot = build_flowchart("create_order", ftgo_steps(), deadline_s=30.0).dot

    pivot_line = next(line for line in dot.splitlines() if line.startswith("  step_4 ["))
    assert "peripheries=2" in pivot_line and "PIVOT" in pivot_line
    query_line = next(line for line in dot.splitlines() if line.startswith("  step_2 ["))
    assert "dashed" in query_line and "query, no compensation" in query_line
    assert "timeout 2s, 4 attempts" in dot
    assert "waits for kitchen.ticket.confirmed" in dot
    assert 'label="after 3 attempts"' in dot


def test_mermaid_is_a_flowchart_with_class_defs_and_no_reserved_ids() -> None:
    mermaid = build_flowchart("create_order", ftgo_steps(), deadline_s=30.0).mermaid
    lines = mermaid.splitlines()

    assert lines[:4] == ["---", 'title: "saga create_order"', "---", "flowchart TD"]
    assert '  step_4[["authorize_card<br/>PIVOT<br/>' in mermaid
    for name in ("pivot", "query", "compensation", "terminal"):
        assert f"  classDef {name} " in mermaid
    assert "  class step_4 pivot" in lines
    assert '  undo_3 ==>|"undone"| undo_1' in lines
    ids = {m.group(1) for m in re.finditer(r"^  (\w+)[\[(]", mermaid, re.M)}
    assert ids and not ids & {"end", "graph", "subgraph", "flowchart", "class", "style"}


def test_same_input_twice_gives_identical_text() -> None:
    first = build_flowchart("create_order", ftgo_steps(), deadline_s=30.0, title="FTGO")
    second = build_flowchart("create_order", list(ftgo_steps()), deadline_s=30.0, title="FTGO")

    assert first.dot == second.dot
    assert first.mermaid == second.mermaid


def test_unicode_and_markup_in_names_are_quoted_in_dot_and_escaped_in_mermaid() -> None:
    steps = [
        _step(0, "créer_commande", "ventes.commande", "créer", CommandKind.CREATE,
              undo=("delete", "supprimer")),
        _step(1, "注文確認", "kitchen.ticket", "確認", CommandKind.EXTERNAL, pivot=True),
    ]  # fmt: skip
    chart = build_flowchart("saga_ü", steps, deadline_s=5.0, title='Say "hi" <b>#1</b> & `x` | y')

    assert "créer_commande" in chart.dot and "注文確認" in chart.dot
    assert 'label="Say \\"hi\\" <b>#1</b> & `x` | y"' in chart.dot
    assert "注文確認<br/>PIVOT" in chart.mermaid
    assert 'title: "Say \\"hi\\" <b>#1</b> & `x` | y"' in chart.mermaid
    node_lines = [line for line in chart.mermaid.splitlines() if line.startswith("  step_")]
    assert all(re.match(r"^  step_\d+\W", line) for line in node_lines)


def test_mermaid_label_escapes_quotes_and_markup() -> None:
    assert flowchart_text._mermaid_text('a "b" <c> #d & `e` | f\ng') == (
        "a #quot;b#quot; #lt;c#gt; #35;d #amp; #96;e#96; #124; f<br/>g"
    )


def test_dot_label_escapes_backslash_quote_and_newline() -> None:
    assert flowchart_text._dot_quote('a\\b "c"\nd') == '"a\\\\b \\"c\\"\\nd"'


def test_invalid_sagas_are_refused_with_a_fix() -> None:
    steps = ftgo_steps()
    with pytest.raises(FlowchartError, match="no steps"):
        build_flowchart("s", [], deadline_s=1.0)
    with pytest.raises(FlowchartError, match="mark only one as pivot"):
        build_flowchart("s", [steps[0].model_copy(update={"pivot": True}), steps[3]], deadline_s=1)
    with pytest.raises(FlowchartError, match="positive number of seconds"):
        build_flowchart("s", steps, deadline_s=0.0)


def _require_dot() -> None:
    if not dot_available():
        pytest.skip(DOT_MISSING_HINT)


def test_dot_text_parses_with_graphviz_without_warnings() -> None:
    _require_dot()
    for chart in (
        build_flowchart("create_order", ftgo_steps(), deadline_s=30.0),
        build_flowchart(
            "saga_ü",
            [_step(0, "注文", "a.b", "c", CommandKind.CREATE, undo=("delete", "d"))],
            deadline_s=1.5,
            title='quote " backslash \\ end',
        ),
    ):
        result = subprocess.run(
            ["dot", "-Tcanon"], input=chart.dot.encode(), capture_output=True, check=False
        )
        assert result.returncode == 0, result.stderr.decode()
        assert result.stderr == b""


def test_render_svg_writes_svg_without_version_comment(tmp_path: Path) -> None:
    _require_dot()
    out = tmp_path / "charts" / "create_order.svg"
    chart = build_flowchart("create_order", ftgo_steps(), deadline_s=30.0)

    assert render_svg(chart.dot, out) is None
    svg = out.read_text(encoding="utf-8")
    assert "<svg" in svg and "authorize_card" in svg
    assert "Generated by graphviz" not in svg
    assert render_svg(chart.dot, tmp_path / "again.svg") is None
    assert (tmp_path / "again.svg").read_bytes() == out.read_bytes()


def test_render_svg_reports_graphviz_errors(tmp_path: Path) -> None:
    _require_dot()
    with pytest.raises(FlowchartError, match="rejected"):
        render_svg("digraph { a -> }", tmp_path / "bad.svg")
    assert not (tmp_path / "bad.svg").exists()


def test_missing_dot_returns_hint_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    chart = build_flowchart("create_order", ftgo_steps(), deadline_s=30.0)

    assert not dot_available()
    assert render_svg(chart.dot, tmp_path / "x.svg") == DOT_MISSING_HINT
    assert "\n" not in DOT_MISSING_HINT
    assert not (tmp_path / "x.svg").exists()


def test_missing_dot_via_which_returns_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shutil, "which", lambda *_args, **_kwargs: None)

    assert render_svg("digraph { a }", tmp_path / "x.svg") == DOT_MISSING_HINT
