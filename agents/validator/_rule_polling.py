"""SAGA-L004: polling loops where a completion event should be awaited.

A loop (``while``, ``for``, ``async for``) is a polling loop when it sleeps
(``time.sleep``, ``asyncio.sleep``, ``sleep``, ``trio.sleep``..., with a delay other
than a literal 0) and checks a status: a comparison, an ``if``/``while`` test, or a call
whose result is used (not a bare statement), naming an identifier or string containing
``status``, ``state``, ``done``, ``complete``, ``ready`` or ``poll``. The loop reported
is the innermost loop around the sleep; nested functions are separate scopes. A retry
loop with backoff that checks no status is not reported, nor one that checks only an HTTP
status (``status_code``, ``http_status``: a retry of a failed request, not a poll).
"""

from __future__ import annotations

import ast

from sagacrew.agents.validator._astutil import LintContext, call_name, walk_no_nested_scopes
from sagacrew.agents.validator.findings import POLLING_LOOP, Finding

STATUS_WORDS = ("status", "state", "done", "complete", "ready", "poll")
HTTP_STATUS = ("status_code", "http_status")
FIX = "wait for the completion event (declare completion_event on the operation) instead of polling"

LoopNode = ast.While | ast.For | ast.AsyncFor
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)


def check(ctx: LintContext) -> list[Finding]:
    """Every polling loop of the module, once each, in source order."""
    parents = {child: node for node in ast.walk(ctx.tree) for child in ast.iter_child_nodes(node)}
    loops: dict[int, tuple[LoopNode, ast.Call]] = {}
    for node in ast.walk(ctx.tree):
        if not isinstance(node, ast.Call) or not _is_sleep(node):
            continue
        loop = _enclosing_loop(node, parents)
        if loop is not None and id(loop) not in loops and _checks_status(loop, node, parents):
            loops[id(loop)] = (loop, node)
    findings = []
    for loop, sleep in sorted(
        loops.values(), key=lambda pair: (pair[0].lineno, pair[0].col_offset)
    ):
        delay = sleep.args[0] if sleep.args else None
        every = (
            f" every {delay.value} s"
            if isinstance(delay, ast.Constant) and isinstance(delay.value, int | float)
            else ""
        )
        findings.append(
            ctx.finding(
                loop,
                POLLING_LOOP,
                f"polling loop: sleeps{every} (line {sleep.lineno}) and re-checks a status",
                FIX,
            )
        )
    return findings


def _is_sleep(node: ast.Call) -> bool:
    if call_name(node) != "sleep":
        return False
    delay = node.args[0] if node.args else None
    return not (isinstance(delay, ast.Constant) and delay.value == 0)


def _enclosing_loop(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> LoopNode | None:
    current = parents.get(node)
    while current is not None and not isinstance(current, _SCOPES):
        if isinstance(current, ast.While | ast.For | ast.AsyncFor):
            return current
        current = parents.get(current)
    return None


def _mentions_status(expr: ast.AST) -> bool:
    for node in ast.walk(expr):
        word: str | None = None
        if isinstance(node, ast.Name):
            word = node.id
        elif isinstance(node, ast.Attribute):
            word = node.attr
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            word = node.value
        if word is None or any(h in word.lower() for h in HTTP_STATUS):
            continue
        if any(w in word.lower() for w in STATUS_WORDS):
            return True
    return False


def _checks_status(loop: LoopNode, sleep: ast.Call, parents: dict[ast.AST, ast.AST]) -> bool:
    candidates: list[ast.AST] = []
    if isinstance(loop, ast.While):
        candidates.append(loop.test)
    else:
        candidates.append(loop.iter)
    for node in walk_no_nested_scopes(loop):
        if isinstance(node, ast.Compare):
            candidates.append(node)
        elif isinstance(node, ast.If | ast.While | ast.IfExp | ast.Assert):
            candidates.append(node.test)
        elif isinstance(node, ast.Call) and node is not sleep and _result_is_used(node, parents):
            candidates.append(node)
    return any(_mentions_status(c) for c in candidates)


def _result_is_used(call: ast.Call, parents: dict[ast.AST, ast.AST]) -> bool:
    parent = parents.get(call)
    if isinstance(parent, ast.Await):
        parent = parents.get(parent)
    return not isinstance(parent, ast.Expr)
