"""Saga flowcharts: one networkx graph, written as Graphviz DOT and Mermaid, rendered to SVG.

The graph (:func:`build_graph`) is the single source of truth; :func:`build_flowchart`
writes it twice, as DOT and as Mermaid ``flowchart TD``, both byte-identical for the same
input (nodes and edges are written in an explicit order, never in set or hash order, and
nothing depends on the clock or the machine).

What the graph shows, with Garcia-Molina's saga words:

- ``start``, then each step in order (``step_1`` … ``step_n``; ids are 1-based positions,
  so Unicode step names only ever appear inside quoted labels); the last step leads to
  ``completed``.
- The compensatable region is every step up to and including the pivot (every step when
  there is no pivot). A step there that fails leads to the compensation of the nearest
  earlier step that has one (``undo_k``), or straight to ``compensated`` when nothing
  before it needs undoing. A failed step is taken to have had no effect, so its own
  compensation is not run.
- Compensations run in reverse order, ``undo_k`` to the next earlier ``undo_j``, the last
  one to ``compensated``; each has a dead-letter edge to ``compensation_failed``, taken
  once the compensation retry policy's attempts are spent.
- Steps after the pivot are retriable: a self-loop ("retry until deadline Xs") and an
  edge to ``stalled`` once the saga deadline passes.
- Only nodes reachable from ``start`` are drawn: a compensation that no failure can reach
  (the pivot's own, or any step's after it) and a terminal state that cannot happen
  (``stalled`` without steps after the pivot, ``compensation_failed`` without
  compensations) are left out, so the chart never shows a path the saga cannot take.

Styles: the pivot has a double border and a ``PIVOT`` line (Mermaid: a subroutine shape);
query steps are dashed and say "query, no compensation"; every step shows
"timeout Xs, N attempts" (after the pivot: "retry until deadline"), and a step completed
by an event says "waits for <event>".
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

import networkx as nx

from sagacrew.crew.blueprint import Flowchart, StepSpec
from sagacrew.crew.spec.model import CommandKind, RetryPolicy

__all__ = [
    "DOT_MISSING_HINT",
    "FlowchartError",
    "build_flowchart",
    "build_graph",
    "dot_available",
    "render_svg",
]

DOT_MISSING_HINT: Final = (
    "Graphviz 'dot' not found: install it (apt-get install graphviz / brew install graphviz);"
    " DOT and Mermaid were written"
)
"""The one-line hint :func:`render_svg` returns when the ``dot`` binary is not on PATH."""

_DOT_TIMEOUT_S: Final = 60.0
"""How long ``dot -Tsvg`` may run before :func:`render_svg` gives up."""

Role = Literal["start", "step", "pivot", "query", "compensation", "terminal"]
EdgeKind = Literal["forward", "failure", "compensation", "dead_letter", "retry", "stall"]

_START: Final = "start"
_COMPLETED: Final = "completed"
_COMPENSATED: Final = "compensated"
_COMPENSATION_FAILED: Final = "compensation_failed"
_STALLED: Final = "stalled"

_EDGE_RANK: Final[dict[EdgeKind, int]] = {
    "forward": 0,
    "retry": 1,
    "failure": 2,
    "stall": 3,
    "compensation": 4,
    "dead_letter": 5,
}


class FlowchartError(ValueError):
    """The steps cannot be drawn as a saga, or Graphviz refused the DOT text.

    The message names the saga and the offending value, and says what to change.
    """


@dataclass(frozen=True)
class _Node:
    id: str
    role: Role
    lines: tuple[str, ...]


# --- the graph ---------------------------------------------------------------------------


def _seconds(value_s: float) -> str:
    """``2.0`` → ``2s``, ``0.25`` → ``0.25s``: shortest exact decimal, no trailing zeros."""
    return f"{value_s:g}s"


def _attempts(n: int) -> str:
    return "1 attempt" if n == 1 else f"{n} attempts"


def _step_lines(step: StepSpec, *, after_pivot: bool) -> tuple[str, ...]:
    lines = [step.name]
    if step.pivot:
        lines.append("PIVOT")
    if step.kind == CommandKind.QUERY:
        lines.append("query, no compensation")
    elif step.compensation is None:
        lines.append("no compensation")
    lines.append(f"{step.target}.{step.command}")
    if after_pivot:
        lines.append(f"timeout {_seconds(step.timeout_s)}, retry until deadline")
    else:
        lines.append(f"timeout {_seconds(step.timeout_s)}, {_attempts(step.retry.max_attempts)}")
    if step.completion_event is not None:
        lines.append(f"waits for {step.completion_event}")
    return tuple(lines)


def _check(saga_name: str, steps: Sequence[StepSpec], deadline_s: float) -> int | None:
    """Validate the input; return the 0-based position of the pivot, if any."""
    if not steps:
        raise FlowchartError(f"saga {saga_name!r} has no steps: give it at least one step")
    if not deadline_s > 0:
        raise FlowchartError(
            f"saga {saga_name!r} has deadline_s={deadline_s!r}: use a positive number of seconds"
        )
    pivots = [i for i, step in enumerate(steps) if step.pivot]
    if len(pivots) > 1:
        names = ", ".join(steps[i].name for i in pivots)
        raise FlowchartError(
            f"saga {saga_name!r} has {len(pivots)} pivot steps ({names}): mark only one as pivot"
        )
    return pivots[0] if pivots else None


def build_graph(
    saga_name: str,
    steps: Sequence[StepSpec],
    *,
    deadline_s: float,
    compensation_retry: RetryPolicy | None = None,
) -> nx.DiGraph:
    """The saga as a directed graph; see the module docstring for what it contains.

    Node attributes: ``role`` (``start``/``step``/``pivot``/``query``/``compensation``/
    ``terminal``), ``lines`` (label lines, tuple of str), ``order`` (int, drawing order),
    and ``step`` (the step's name) on step and compensation nodes. Edge attributes:
    ``kind`` (``forward``/``failure``/``compensation``/``dead_letter``/``retry``/``stall``)
    and ``label`` (str, possibly empty).

    ``compensation_retry`` defaults to ``RetryPolicy()`` (3 attempts); its ``max_attempts``
    is the count on the dead-letter edges. Raises :class:`FlowchartError` when ``steps`` is
    empty, more than one step is the pivot, or ``deadline_s`` is not positive.
    """
    pivot_pos = _check(saga_name, steps, deadline_s)
    comp_policy = compensation_retry if compensation_retry is not None else RetryPolicy()
    last = len(steps) - 1
    region_end = pivot_pos if pivot_pos is not None else last
    deadline = _seconds(deadline_s)

    graph = nx.DiGraph(name=saga_name)

    def add_node(node: _Node, step: str | None = None) -> None:
        attrs: dict[str, object] = {"role": node.role, "lines": node.lines}
        if step is not None:
            attrs["step"] = step
        graph.add_node(node.id, order=graph.number_of_nodes(), **attrs)

    def add_edge(src: str, dst: str, kind: EdgeKind, label: str = "") -> None:
        graph.add_edge(src, dst, kind=kind, label=label)

    add_node(_Node(_START, "start", ("start", f"saga {saga_name}")))
    step_ids = [f"step_{i + 1}" for i in range(len(steps))]
    for i, step in enumerate(steps):
        after_pivot = pivot_pos is not None and i > pivot_pos
        role: Role = (
            "pivot" if step.pivot else "query" if step.kind == CommandKind.QUERY else "step"
        )
        add_node(_Node(step_ids[i], role, _step_lines(step, after_pivot=after_pivot)), step.name)

    # Compensations that some failure can reach: steps strictly before the region's end.
    undo_ids: dict[int, str] = {}
    for i in range(region_end):
        comp = steps[i].compensation
        if comp is not None:
            undo_ids[i] = f"undo_{i + 1}"
            lines = (
                f"compensate {steps[i].name}",
                f"{comp.kind}: {comp.target}.{comp.command}",
            )
            add_node(_Node(undo_ids[i], "compensation", lines), steps[i].name)

    add_node(_Node(_COMPLETED, "terminal", ("completed",)))
    add_node(_Node(_COMPENSATED, "terminal", ("compensated",)))
    if undo_ids:
        add_node(_Node(_COMPENSATION_FAILED, "terminal", ("compensation_failed", "dead letter")))
    if pivot_pos is not None and pivot_pos < last:
        add_node(_Node(_STALLED, "terminal", ("stalled", "needs an operator")))

    def undo_before(pos: int) -> str:
        """Where compensation starts when the step at ``pos`` fails (or ``pos`` is undone)."""
        earlier = [i for i in undo_ids if i < pos]
        return undo_ids[max(earlier)] if earlier else _COMPENSATED

    add_edge(_START, step_ids[0], "forward")
    for i in range(len(steps)):
        add_edge(step_ids[i], step_ids[i + 1] if i < last else _COMPLETED, "forward", "done")
        if i <= region_end:
            add_edge(step_ids[i], undo_before(i), "failure", "failed")
        else:
            add_edge(step_ids[i], step_ids[i], "retry", f"retry until deadline {deadline}")
            add_edge(step_ids[i], _STALLED, "stall", f"deadline {deadline} passed")
    dlq_label = f"after {_attempts(comp_policy.max_attempts)}"
    for i in sorted(undo_ids, reverse=True):
        add_edge(undo_ids[i], undo_before(i), "compensation", "undone")
        add_edge(undo_ids[i], _COMPENSATION_FAILED, "dead_letter", dlq_label)
    return graph


def _ordered_nodes(graph: nx.DiGraph) -> list[tuple[str, dict[str, object]]]:
    return sorted(graph.nodes(data=True), key=lambda item: int(item[1]["order"]))


def _ordered_edges(graph: nx.DiGraph) -> list[tuple[str, str, EdgeKind, str]]:
    order = {node: int(attrs["order"]) for node, attrs in graph.nodes(data=True)}
    edges = [
        (src, dst, attrs["kind"], attrs["label"]) for src, dst, attrs in graph.edges(data=True)
    ]
    return sorted(edges, key=lambda e: (order[e[0]], _EDGE_RANK[e[2]], order[e[1]]))


def _lines(attrs: dict[str, object]) -> tuple[str, ...]:
    lines = attrs["lines"]
    assert isinstance(lines, tuple)
    return tuple(str(line) for line in lines)


# --- DOT ---------------------------------------------------------------------------------


def _dot_quote(text: str) -> str:
    """A DOT double-quoted string; each line break becomes a centred ``\\n``."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    escaped = escaped.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\\n")
    return f'"{escaped}"'


_DOT_NODE_STYLE: Final[dict[str, str]] = {
    "start": 'shape=oval, style=filled, fillcolor="#e8f0fe"',
    "step": "shape=box, style=rounded",
    "pivot": 'shape=box, style="rounded,bold", peripheries=2, color="#b35900"',
    "query": 'shape=box, style="rounded,dashed"',
    "compensation": 'shape=box, style="rounded,filled", fillcolor="#fde2e2", color="#c0392b"',
    "terminal": 'shape=oval, style=filled, fillcolor="#eeeeee"',
}
_DOT_TERMINAL_FILL: Final[dict[str, str]] = {
    _COMPLETED: "#d4edda",
    _COMPENSATED: "#fff3cd",
    _COMPENSATION_FAILED: "#f8d7da",
    _STALLED: "#f8d7da",
}
_DOT_EDGE_STYLE: Final[dict[EdgeKind, str]] = {
    "forward": "",
    "failure": 'style=dashed, color="#c0392b", fontcolor="#c0392b"',
    "compensation": 'color="#c0392b", penwidth=2',
    "dead_letter": 'style=dotted, color="#7f0000", fontcolor="#7f0000"',
    "retry": 'style=dashed, color="#b35900", fontcolor="#b35900"',
    "stall": 'style=dotted, color="#7f0000", fontcolor="#7f0000"',
}


def _to_dot(graph: nx.DiGraph, saga_name: str, title: str) -> str:
    out = [
        f"digraph {_dot_quote(saga_name)} {{",
        f'  graph [label={_dot_quote(title)}, labelloc=t, rankdir=TB, charset="UTF-8",'
        ' fontname="Helvetica"];',
        '  node [fontname="Helvetica", fontsize=11];',
        '  edge [fontname="Helvetica", fontsize=9];',
    ]
    for node, attrs in _ordered_nodes(graph):
        role = str(attrs["role"])
        style = _DOT_NODE_STYLE[role]
        if role == "terminal":
            style = f'shape=oval, style=filled, fillcolor="{_DOT_TERMINAL_FILL[node]}"'
        label = _dot_quote("\n".join(_lines(attrs)))
        out.append(f"  {node} [label={label}, {style}];")
    for src, dst, kind, label in _ordered_edges(graph):
        parts = [f"label={_dot_quote(label)}"] if label else []
        if _DOT_EDGE_STYLE[kind]:
            parts.append(_DOT_EDGE_STYLE[kind])
        attrs_text = f" [{', '.join(parts)}]" if parts else ""
        out.append(f"  {src} -> {dst}{attrs_text};")
    out.append("}")
    return "\n".join(out) + "\n"


# --- Mermaid -----------------------------------------------------------------------------

_MERMAID_ENTITIES: Final = (
    ("#", "#35;"),  # first: the other replacements introduce '#'
    ("&", "#amp;"),
    ('"', "#quot;"),
    ("<", "#lt;"),
    (">", "#gt;"),
    ("`", "#96;"),
    ("|", "#124;"),
)


def _mermaid_text(text: str) -> str:
    """Text safe inside a quoted Mermaid label: entity codes for markup, ``<br/>`` for breaks."""
    for raw, code in _MERMAID_ENTITIES:
        text = text.replace(raw, code)
    return re.sub(r"\r\n|\r|\n", "<br/>", text)


_MERMAID_SHAPE: Final[dict[str, tuple[str, str]]] = {
    "start": ("([", "])"),
    "step": ("(", ")"),
    "pivot": ("[[", "]]"),
    "query": ("[/", "/]"),
    "compensation": ("(", ")"),
    "terminal": ("([", "])"),
}
_MERMAID_ARROW: Final[dict[EdgeKind, str]] = {
    "forward": "-->",
    "failure": "-.->",
    "compensation": "==>",
    "dead_letter": "-.->",
    "retry": "-.->",
    "stall": "-.->",
}
_MERMAID_CLASSES: Final = (
    ("start", "fill:#e8f0fe,stroke:#4a6fa5"),
    ("step", "fill:#ffffff,stroke:#333333"),
    ("pivot", "fill:#fff4e5,stroke:#b35900,stroke-width:4px"),
    ("query", "fill:#ffffff,stroke:#333333,stroke-dasharray:5 5"),
    ("compensation", "fill:#fde2e2,stroke:#c0392b"),
    ("terminal", "fill:#eeeeee,stroke:#555555"),
    ("failed", "fill:#f8d7da,stroke:#7f0000"),
)


def _mermaid_class(node: str, role: str) -> str:
    return "failed" if node in (_COMPENSATION_FAILED, _STALLED) else role


def _to_mermaid(graph: nx.DiGraph, title: str) -> str:
    # Front matter is YAML, and a JSON string is a valid YAML double-quoted scalar.
    out = ["---", f"title: {json.dumps(title, ensure_ascii=False)}", "---", "flowchart TD"]
    members: dict[str, list[str]] = {name: [] for name, _ in _MERMAID_CLASSES}
    for node, attrs in _ordered_nodes(graph):
        role = str(attrs["role"])
        opening, closing = _MERMAID_SHAPE[role]
        label = "\n".join(_lines(attrs))
        out.append(f'  {node}{opening}"{_mermaid_text(label)}"{closing}')
        members[_mermaid_class(node, role)].append(node)
    for src, dst, kind, label in _ordered_edges(graph):
        text = f'|"{_mermaid_text(label)}"|' if label else ""
        out.append(f"  {src} {_MERMAID_ARROW[kind]}{text} {dst}")
    for name, style in _MERMAID_CLASSES:
        out.append(f"  classDef {name} {style}")
    for name, _ in _MERMAID_CLASSES:
        if members[name]:
            out.append(f"  class {','.join(members[name])} {name}")
    return "\n".join(out) + "\n"


# --- public entry points -----------------------------------------------------------------


def build_flowchart(
    saga_name: str,
    steps: Sequence[StepSpec],
    *,
    deadline_s: float,
    title: str = "",
    compensation_retry: RetryPolicy | None = None,
) -> Flowchart:
    """The saga's flowchart as DOT and Mermaid text, both written from :func:`build_graph`.

    ``title`` defaults to ``"saga <saga_name>"``; ``compensation_retry`` defaults to
    ``RetryPolicy()`` (its ``max_attempts`` labels the dead-letter edges). The same input
    always gives the same bytes. Raises :class:`FlowchartError` on input that is not a saga
    (no steps, several pivots, non-positive ``deadline_s``).
    """
    graph = build_graph(
        saga_name, steps, deadline_s=deadline_s, compensation_retry=compensation_retry
    )
    heading = title or f"saga {saga_name}"
    return Flowchart(dot=_to_dot(graph, saga_name, heading), mermaid=_to_mermaid(graph, heading))


def dot_available() -> bool:
    """Whether Graphviz's ``dot`` binary is on PATH."""
    return shutil.which("dot") is not None


_GENERATOR_COMMENT: Final = re.compile(rb"<!-- Generated by graphviz version .*?-->\r?\n", re.S)
"""Graphviz's version comment (it spans two lines in 2.43), removed from the SVG."""


def render_svg(dot_source: str, out_path: Path) -> str | None:
    """Render ``dot_source`` to SVG with ``dot -Tsvg`` and write it to ``out_path``.

    Parent folders are created. The "Generated by graphviz version …" comment is removed,
    so the file depends only on the DOT text and the layout. Returns ``None`` on success,
    or :data:`DOT_MISSING_HINT` (nothing written, no exception) when ``dot`` is not on
    PATH. Raises :class:`FlowchartError` with Graphviz's message when ``dot`` rejects the
    text or runs longer than 60 s.
    """
    dot = shutil.which("dot")
    if dot is None:
        return DOT_MISSING_HINT
    try:
        result = subprocess.run(
            [dot, "-Tsvg"],
            input=dot_source.encode("utf-8"),
            capture_output=True,
            check=False,
            timeout=_DOT_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired as exc:
        raise FlowchartError(
            f"Graphviz 'dot' ran longer than {_seconds(_DOT_TIMEOUT_S)} on the flowchart for"
            f" {out_path}: simplify the saga or render the DOT file by hand"
        ) from exc
    if result.returncode != 0:
        message = result.stderr.decode("utf-8", errors="replace").strip()
        raise FlowchartError(
            f"Graphviz 'dot' rejected the flowchart for {out_path} (exit {result.returncode}):"
            f" {message}"
        )
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_bytes(_GENERATOR_COMMENT.sub(b"", result.stdout))
    return None
