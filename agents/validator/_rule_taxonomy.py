"""SAGA-L003: event names outside the taxonomy (checked only when a taxonomy is given).

An *event name* is a string literal shaped ``context.aggregate.verb`` (three lowercase
snake_case parts). It is checked where it names an event: a positional argument (or an
element of a tuple/list argument) of ``publish``, ``publish_event``, ``emit``,
``emit_event``, ``new_event``/``NewEvent``, ``Event``, ``append``, ``append_event``,
``record_event``, ``raise_event``, ``apply_event``, ``subscribe``, ``on_event``,
``wait_for_event`` or ``await_event``; the value of an ``event_type=``, ``event_name=``,
``event=`` or ``completion_event=`` keyword, dict key or assignment target. A name not in
the taxonomy is reported with the closest registered name (``ml.run.complete`` ->
``ml.run.completed``) when one is close enough.
"""

from __future__ import annotations

import ast
import difflib
import re
from collections.abc import Collection, Iterator

from sagacrew.agents.validator._astutil import LintContext, call_name, terminal_name
from sagacrew.agents.validator.findings import UNKNOWN_EVENT, Finding

EVENT_NAME = re.compile(r"^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*){2}$")
EVENT_CALLS = frozenset(
    {
        "publish",
        "publish_event",
        "emit",
        "emit_event",
        "new_event",
        "newevent",
        "event",
        "append",
        "append_event",
        "record_event",
        "raise_event",
        "apply_event",
        "subscribe",
        "on_event",
        "wait_for_event",
        "await_event",
    }
)
EVENT_SLOTS = frozenset({"event_type", "event_name", "event", "completion_event"})


def check(ctx: LintContext) -> list[Finding]:
    """Every event name literal of the module that the taxonomy does not register."""
    if ctx.taxonomy is None:
        return []
    known = sorted(ctx.taxonomy)
    seen: set[int] = set()
    findings: list[Finding] = []
    for literal in _event_literals(ctx.tree):
        if id(literal) in seen:
            continue
        seen.add(id(literal))
        name = str(literal.value)
        if not EVENT_NAME.match(name) or name in ctx.taxonomy:
            continue
        findings.append(
            ctx.finding(
                literal,
                UNKNOWN_EVENT,
                f"event '{name}' is not in the taxonomy",
                _fix(name, known),
            )
        )
    return findings


def _fix(name: str, known: Collection[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.8)
    if close:
        return f"use the registered name '{close[0]}'"
    return (
        "use a registered event name or add it to the taxonomy "
        "(context.aggregate.past_tense_verb, versioned)"
    )


def _strings(expr: ast.expr) -> Iterator[ast.Constant]:
    """String literals of ``expr``, itself or as a direct element of a tuple or list."""
    if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
        yield expr
    elif isinstance(expr, ast.Tuple | ast.List):
        for element in expr.elts:
            if isinstance(element, ast.Constant) and isinstance(element.value, str):
                yield element


def _event_literals(tree: ast.Module) -> Iterator[ast.Constant]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = call_name(node)
            if name is not None and name.lower() in EVENT_CALLS:
                for arg in node.args:
                    yield from _strings(arg)
            for kw in node.keywords:
                if kw.arg in EVENT_SLOTS:
                    yield from _strings(kw.value)
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value in EVENT_SLOTS:
                    yield from _strings(value)
        elif isinstance(node, ast.Assign):
            if any(terminal_name(t) in EVENT_SLOTS for t in node.targets):
                yield from _strings(node.value)
        elif (
            isinstance(node, ast.AnnAssign)
            and node.value is not None
            and terminal_name(node.target) in EVENT_SLOTS
        ):
            yield from _strings(node.value)
