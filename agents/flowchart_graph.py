"""The saga flowchart as a networkx graph: the single source of truth DOT and Mermaid are
written from (:mod:`sagacrew.agents.flowchart_text`).

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
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

import networkx as nx

from sagacrew.agents.blueprint import Compensation, StepSpec
from sagacrew.agents.spec.model import CommandKind, RetryPolicy

Role = Literal["start", "step", "pivot", "query", "compensation", "terminal"]
EdgeKind = Literal["forward", "failure", "compensation", "dead_letter", "retry", "stall"]

START: Final = "start"
COMPLETED: Final = "completed"
COMPENSATED: Final = "compensated"
COMPENSATION_FAILED: Final = "compensation_failed"
STALLED: Final = "stalled"

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
    """One node to add: its id, its role and its label lines."""

    id: str
    role: Role
    lines: tuple[str, ...]


def seconds(value_s: float) -> str:
    """``2.0`` → ``2s``, ``0.25`` → ``0.25s``: shortest exact decimal, no trailing zeros."""
    return f"{value_s:g}s"


def _attempts(n: int) -> str:
    """``1 attempt``, ``3 attempts``."""
    return "1 attempt" if n == 1 else f"{n} attempts"


def _step_lines(step: StepSpec, *, after_pivot: bool) -> tuple[str, ...]:
    """The label lines of a step node."""
    lines = [step.name]
    if step.pivot:
        lines.append("PIVOT")
    if step.for_each is not None:
        lines.append(f"for each item of {_list_name(step)}")
    if step.kind == CommandKind.QUERY:
        lines.append("query, no compensation")
    elif step.compensation is None:
        lines.append("no compensation")
    lines.append(f"{step.target}.{step.command}")
    if after_pivot:
        lines.append(f"timeout {seconds(step.timeout_s)}, retry until deadline")
    else:
        lines.append(f"timeout {seconds(step.timeout_s)}, {_attempts(step.retry.max_attempts)}")
    if step.completion_event is not None:
        lines.append(f"waits for {step.completion_event}")
    return tuple(lines)


def _undo_action(comp: Compensation) -> str:
    """What an undo does: ``release: compute.gpu_quota.release_gpus``; a built-in command
    (``_delete``, ``_restore``) is named by its kind alone: ``delete: ordering.order``."""
    if comp.command.startswith("_"):
        return f"{comp.kind}: {comp.target}"
    return f"{comp.kind}: {comp.target}.{comp.command}"


def _list_name(step: StepSpec) -> str:
    """The list a fan-out step goes over, as the spec wrote it."""
    items = step.for_each
    assert items is not None
    if items.source == "step_field":
        return f"steps.{items.step}.{items.field}"
    return items.field or items.key


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
    deadline = seconds(deadline_s)

    graph = nx.DiGraph(name=saga_name)

    def add_node(node: _Node, step: str | None = None) -> None:
        attrs: dict[str, object] = {"role": node.role, "lines": node.lines}
        if step is not None:
            attrs["step"] = step
        graph.add_node(node.id, order=graph.number_of_nodes(), **attrs)

    def add_edge(src: str, dst: str, kind: EdgeKind, label: str = "") -> None:
        graph.add_edge(src, dst, kind=kind, label=label)

    add_node(_Node(START, "start", ("start", f"saga {saga_name}")))
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
            lines: tuple[str, ...] = (f"undo {steps[i].name}", _undo_action(comp))
            if steps[i].for_each is not None:
                lines = (*lines, "each done item, in reverse")
            add_node(_Node(undo_ids[i], "compensation", lines), steps[i].name)

    add_node(_Node(COMPLETED, "terminal", ("completed",)))
    add_node(_Node(COMPENSATED, "terminal", ("compensated",)))
    if undo_ids:
        add_node(_Node(COMPENSATION_FAILED, "terminal", ("compensation_failed", "dead letter")))
    if pivot_pos is not None and pivot_pos < last:
        add_node(_Node(STALLED, "terminal", ("stalled", "needs an operator")))

    def undo_before(pos: int) -> str:
        """Where compensation starts when the step at ``pos`` fails (or ``pos`` is undone)."""
        earlier = [i for i in undo_ids if i < pos]
        return undo_ids[max(earlier)] if earlier else COMPENSATED

    add_edge(START, step_ids[0], "forward")
    for i in range(len(steps)):
        add_edge(step_ids[i], step_ids[i + 1] if i < last else COMPLETED, "forward", "done")
        if i <= region_end:
            add_edge(step_ids[i], undo_before(i), "failure", "failed")
        else:
            add_edge(step_ids[i], step_ids[i], "retry", f"retry until deadline {deadline}")
            add_edge(step_ids[i], STALLED, "stall", f"deadline {deadline} passed")
    dlq_label = f"after {_attempts(comp_policy.max_attempts)}"
    for i in sorted(undo_ids, reverse=True):
        add_edge(undo_ids[i], undo_before(i), "compensation", "undone")
        add_edge(undo_ids[i], COMPENSATION_FAILED, "dead_letter", dlq_label)
    return graph


def ordered_nodes(graph: nx.DiGraph) -> list[tuple[str, dict[str, object]]]:
    """The graph's nodes with their attributes, in drawing order."""
    return sorted(graph.nodes(data=True), key=lambda item: int(item[1]["order"]))


def ordered_edges(graph: nx.DiGraph) -> list[tuple[str, str, EdgeKind, str]]:
    """``(src, dst, kind, label)`` for every edge: by source, then kind, then target."""
    order = {node: int(attrs["order"]) for node, attrs in graph.nodes(data=True)}
    edges = [
        (src, dst, attrs["kind"], attrs["label"]) for src, dst, attrs in graph.edges(data=True)
    ]
    return sorted(edges, key=lambda e: (order[e[0]], _EDGE_RANK[e[2]], order[e[1]]))


def node_lines(attrs: dict[str, object]) -> tuple[str, ...]:
    """A node's label lines, from its attributes."""
    lines = attrs["lines"]
    assert isinstance(lines, tuple)
    return tuple(str(line) for line in lines)
