"""Writing the flowchart graph as text: Graphviz DOT and Mermaid ``flowchart TD``.

Both writers walk :func:`~sagacrew.agents.flowchart_graph.build_graph`'s nodes and edges in
an explicit order (never set or hash order), so the same graph always gives the same bytes.

Styles: the pivot has a double border and a ``PIVOT`` line (Mermaid: a subroutine shape);
query steps are dashed and say "query, no compensation"; every step shows
"timeout Xs, N attempts" (after the pivot: "retry until deadline"), and a step completed
by an event says "waits for <event>".
"""

from __future__ import annotations

import json
import re
from typing import Final

import networkx as nx

from sagacrew.agents.flowchart_graph import (
    COMPENSATED,
    COMPENSATION_FAILED,
    COMPLETED,
    STALLED,
    EdgeKind,
    node_lines,
    ordered_edges,
    ordered_nodes,
)


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
    COMPLETED: "#d4edda",
    COMPENSATED: "#fff3cd",
    COMPENSATION_FAILED: "#f8d7da",
    STALLED: "#f8d7da",
}
_DOT_EDGE_STYLE: Final[dict[EdgeKind, str]] = {
    "forward": "",
    "failure": 'style=dashed, color="#c0392b", fontcolor="#c0392b"',
    "compensation": 'color="#c0392b", penwidth=2',
    "dead_letter": 'style=dotted, color="#7f0000", fontcolor="#7f0000"',
    "retry": 'style=dashed, color="#b35900", fontcolor="#b35900"',
    "stall": 'style=dotted, color="#7f0000", fontcolor="#7f0000"',
}


def to_dot(graph: nx.DiGraph, saga_name: str, title: str) -> str:
    """The graph as a Graphviz ``digraph`` named ``saga_name`` with ``title`` on top."""
    out = [
        f"digraph {_dot_quote(saga_name)} {{",
        f'  graph [label={_dot_quote(title)}, labelloc=t, rankdir=TB, charset="UTF-8",'
        ' fontname="Helvetica"];',
        '  node [fontname="Helvetica", fontsize=11];',
        '  edge [fontname="Helvetica", fontsize=9];',
    ]
    for node, attrs in ordered_nodes(graph):
        role = str(attrs["role"])
        style = _DOT_NODE_STYLE[role]
        if role == "terminal":
            style = f'shape=oval, style=filled, fillcolor="{_DOT_TERMINAL_FILL[node]}"'
        label = _dot_quote("\n".join(node_lines(attrs)))
        out.append(f"  {node} [label={label}, {style}];")
    for src, dst, kind, label in ordered_edges(graph):
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
    """The Mermaid class of a node: its role, or ``failed`` for the failure terminals."""
    return "failed" if node in (COMPENSATION_FAILED, STALLED) else role


def to_mermaid(graph: nx.DiGraph, title: str) -> str:
    """The graph as a Mermaid ``flowchart TD`` with ``title`` in its front matter."""
    # Front matter is YAML, and a JSON string is a valid YAML double-quoted scalar.
    out = ["---", f"title: {json.dumps(title, ensure_ascii=False)}", "---", "flowchart TD"]
    members: dict[str, list[str]] = {name: [] for name, _ in _MERMAID_CLASSES}
    for node, attrs in ordered_nodes(graph):
        role = str(attrs["role"])
        opening, closing = _MERMAID_SHAPE[role]
        label = "\n".join(node_lines(attrs))
        out.append(f'  {node}{opening}"{_mermaid_text(label)}"{closing}')
        members[_mermaid_class(node, role)].append(node)
    for src, dst, kind, label in ordered_edges(graph):
        text = f'|"{_mermaid_text(label)}"|' if label else ""
        out.append(f"  {src} {_MERMAID_ARROW[kind]}{text} {dst}")
    for name, style in _MERMAID_CLASSES:
        out.append(f"  classDef {name} {style}")
    for name, _ in _MERMAID_CLASSES:
        if members[name]:
            out.append(f"  class {','.join(members[name])} {name}")
    return "\n".join(out) + "\n"
