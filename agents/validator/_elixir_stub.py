"""SAGA-L001 for Elixir: stub compensations and to-do placeholders (GAP-001..003, 005, 006).

- A *compensation* is the function given to a Reactor step's ``compensate``/``undo`` (or a
  ``rollback``): an anonymous ``fn`` or a captured local function (``&cancel_jobs/2``); or
  a ``def``/``defp`` whose name contains ``compensat``, ``undo``, ``rollback``, ``release``
  or ``cancel`` (a ``Reactor.Step`` module's ``compensate/4`` and ``undo/4`` included). It
  is a stub when every clause only logs (``Logger``, ``:logger``, ``IO``) and/or returns a
  constant (``:ok``, ``{:ok, :compensated}``), or, with a to-do marker in it, returns its
  input unchanged. A clause for the empty case (``fn [], _ -> :ok``) next to a clause that
  works is not a stub: every clause must be one.
- A *to-do placeholder* is a to-do marker comment after which the rest of its block only
  logs, binds hardcoded values (``policy = %{approved: true, ...}``) and returns them or
  its input: the marker stands where the work should be. It is reported at the comment,
  unless it sits in a compensation already reported.
"""

from __future__ import annotations

import re

from sagacrew.agents.validator import _elixir_tree as ex
from sagacrew.agents.validator.findings import STUB_COMPENSATION, Finding, stub_description

COMPENSATION_WORDS = ("compensat", "undo", "rollback", "release", "cancel")
COMPENSATION_MACROS = frozenset({"compensate", "undo", "rollback"})
# Spelled with character classes so this file does not itself match the markers.
_TODO = re.compile(r"\b(T[O]DO|F[I]XME|X[X]X)\b")
CONSTANTS = frozenset({"atom", "integer", "float", "boolean", "nil", "char", "string"})
CONTAINERS = frozenset({"tuple", "list", "map", "map_content", "keywords", "pair", "struct"})
FIX = "perform the undo (e.g. call the delete/release/cancel function) or raise"
FIX_TODO = "do the work the marker names (call the real service) or raise until it is done"


def check(ctx: ex.ElixirContext) -> list[Finding]:
    """Every stub compensation and to-do placeholder of the file."""
    findings: list[Finding] = []
    reported: list[ex.Node] = []
    captured: set[str] = set()
    for node in ex.walk(ctx.root):
        if node.type != "call" or ex.call_parts(node) not in {
            (None, m) for m in COMPENSATION_MACROS
        }:
            continue
        arguments = ex.args(node)
        function = arguments[0] if arguments else None
        if function is not None and function.type == "unary_operator":
            captured.add(ex.text(function).lstrip("&").split("/")[0].split(".")[-1].strip())
        if function is None or function.type != "anonymous_function":
            continue
        clauses = [c for c in function.named_children if c.type == "stab_clause"]
        what = _all_stubs(ctx, [(c, c.child_by_field_name("right")) for c in clauses], function)
        if what is not None:
            reported.append(function)
            step = _step_name(node)
            findings.append(
                ctx.finding(
                    node,
                    STUB_COMPENSATION,
                    f"{ex.call_parts(node)[1]} of step {step} is a stub: it {what}",
                    FIX,
                )
            )
    groups: dict[tuple[str, int], list[tuple[ex.Node, ex.Node | None]]] = {}
    for call, name, arity, body in ex.definitions(ctx.root):
        groups.setdefault((name, arity), []).append((call, body))
    for (name, arity), clauses in groups.items():
        lowered = name.lower()
        if name not in captured and not any(word in lowered for word in COMPENSATION_WORDS):
            continue
        what = _all_stubs(ctx, clauses, clauses[0][0])
        if what is not None:
            reported.extend(call for call, _ in clauses)
            findings.append(
                ctx.finding(
                    clauses[0][0],
                    STUB_COMPENSATION,
                    f"compensation {name}/{arity} is a stub: it {what}",
                    FIX,
                )
            )
    findings.extend(_placeholders(ctx, reported))
    return findings


def _step_name(call: ex.Node) -> str:
    for step in ex.enclosing(call, {"call"}):
        if ex.call_parts(step) == (None, "step"):
            arguments = ex.args(step)
            return ex.text(arguments[0]) if arguments else "?"
    return "?"


def _has_todo(ctx: ex.ElixirContext, node: ex.Node) -> bool:
    first, last = node.start_point[0] + 1, node.end_point[0] + 1
    return any(_TODO.search(t) for line, t in ctx.comments.items() if first <= line <= last)


def _all_stubs(
    ctx: ex.ElixirContext, clauses: list[tuple[ex.Node, ex.Node | None]], whole: ex.Node
) -> str | None:
    """What the clauses do when every one is a stub (for the message), else None."""
    if not clauses:
        return None
    has_todo = _has_todo(ctx, whole) or any(_has_todo(ctx, c) for c, _ in clauses)
    behaviours = [_stub_behaviour(ex.body_statements(body), has_todo) for _, body in clauses]
    if any(b is None for b in behaviours):
        return None
    what = next((b for b in behaviours if b and b != "does nothing"), behaviours[0])
    suffix = " (left with a to-do marker)" if has_todo else ""
    return f"{what}{suffix}"


def _stub_behaviour(statements: list[ex.Node], has_todo: bool) -> str | None:
    logs = False
    returns: str | None = None
    for index, stmt in enumerate(statements):
        last = index == len(statements) - 1
        if ex.is_logging_call(stmt):
            logs = True
        elif last and is_constant(stmt):
            returns = f"returns {ex.text(stmt)}"
        elif last and has_todo and is_passthrough(stmt):
            returns = "returns its input unchanged"
        else:
            return None
    return stub_description(logs, returns)


def is_constant(node: ex.Node) -> bool:
    """A literal: ``:ok``, ``1``, ``nil``, ``"text"``, ``{:ok, :compensated}``, ``%{a: 1}``."""
    if node.type in CONSTANTS:
        return node.type != "string" or ex.string_value(node) is not None
    if node.type in {"keyword", "quoted_keyword", "alias"}:
        return True
    if node.type in CONTAINERS:
        return all(is_constant(child) for child in node.named_children if child.type != "comment")
    return False


def is_passthrough(node: ex.Node) -> bool:
    """A literal, a variable or field access, or a container of those: no work done."""
    if is_constant(node) or node.type == "identifier":
        return True
    if node.type == "dot":
        left = node.child_by_field_name("left")
        return left is not None and is_passthrough(left)
    if node.type == "call" and not ex.args(node) and ex.do_block(node) is None:
        target = node.child_by_field_name("target")
        return target is not None and target.type == "dot" and is_passthrough(target)
    if node.type in CONTAINERS:
        return all(is_passthrough(c) for c in node.named_children if c.type != "comment")
    return False


def _is_hardcoded(node: ex.Node) -> bool:
    """A passthrough, an interpolated string, an id generator, or a container of those."""
    if is_passthrough(node):
        return True
    if node.type == "string":
        return True
    if node.type == "call" and "UUID" in (ex.call_parts(node)[0] or ""):
        return True
    if node.type in CONTAINERS:
        return all(_is_hardcoded(c) for c in node.named_children if c.type != "comment")
    return False


def _is_inert(stmt: ex.Node, last: bool) -> bool:
    if ex.is_logging_call(stmt):
        return True
    if stmt.type == "binary_operator" and ex.operator(stmt) == "=":
        value = stmt.child_by_field_name("right")
        return value is not None and _is_hardcoded(value)
    return last and _is_hardcoded(stmt)


def _placeholders(ctx: ex.ElixirContext, reported: list[ex.Node]) -> list[Finding]:
    findings: list[Finding] = []
    for comment in ex.walk(ctx.root):
        if comment.type != "comment" or not _TODO.search(ex.text(comment)):
            continue
        if any(r.start_byte <= comment.start_byte < r.end_byte for r in reported):
            continue
        parent = comment.parent
        if parent is None or parent.type not in {"stab_clause", "body", "do_block"}:
            continue
        following: list[ex.Node] = []
        for sibling in parent.named_children:
            if sibling.start_byte <= comment.start_byte or sibling.type in {"comment", "end"}:
                continue
            if sibling.type.endswith("_block"):  # else/rescue/after: another block
                break
            following.extend(ex.statements(sibling) if sibling.type == "body" else [sibling])
        if following and all(
            _is_inert(stmt, index == len(following) - 1) for index, stmt in enumerate(following)
        ):
            binds = any(ex.operator(s) == "=" for s in following if s.type == "binary_operator")
            what = (
                "binds hardcoded values and returns them"
                if binds
                else "only logs and returns what it was given"
            )
            findings.append(
                ctx.finding(
                    comment,
                    STUB_COMPENSATION,
                    f"to-do placeholder: the code after the marker {what}",
                    FIX_TODO,
                )
            )
    return findings
