"""SAGA-L003: event names that break the naming rules or (given a taxonomy) are not in it.

A string is checked where it names an event:

- the first positional string argument (or an element of a tuple/list argument) of
  ``publish``, ``publish_event``, ``emit``, ``emit_event``, ``new_event``/``NewEvent``,
  ``Event``, ``record_event``, ``raise_event``, ``apply_event``, ``subscribe``, ``on_event``,
  ``wait_for_event`` or ``await_event``; of ``append``/``append_event`` only when shaped
  ``context.aggregate.verb`` (most appended strings are not events);
- the value of an ``event_type=``, ``event_name=``, ``event=`` or ``completion_event=``
  keyword, dict key or assignment target;
- the name of a message literal (``_py_messages``: ``{"name": "ml.run.completed", ...}``).

Only dotted words are candidates (``ml.run.complete``, ``Orders.Order.Approved``; not
``orders:123``, ``a/b`` or ``orders.*``). Each is judged by ``_event_names.problem``: the
naming rules always, the taxonomy when one is given.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from sagacrew.agents.validator import _event_names, _py_messages
from sagacrew.agents.validator._astutil import LintContext, call_name, terminal_name
from sagacrew.agents.validator.findings import UNKNOWN_EVENT, Finding

EVENT_CALLS = frozenset(
    {
        "publish",
        "publish_event",
        "emit",
        "emit_event",
        "new_event",
        "newevent",
        "event",
        "record_event",
        "raise_event",
        "apply_event",
        "subscribe",
        "on_event",
        "wait_for_event",
        "await_event",
    }
)
WEAK_EVENT_CALLS = frozenset({"append", "append_event"})
EVENT_SLOTS = frozenset({"event_type", "event_name", "event", "completion_event"})


def check(ctx: LintContext) -> list[Finding]:
    """Every event name of the module that breaks the rules or the taxonomy, once each."""
    seen: set[int] = set()
    findings: list[Finding] = []
    for literal, strict in _event_literals(ctx.tree):
        name = str(literal.value)
        if id(literal) in seen or not _event_names.is_event_like(name, strict=strict):
            continue
        seen.add(id(literal))
        problem = _event_names.problem(name, ctx.taxonomy)
        if problem is not None:
            findings.append(ctx.finding(literal, UNKNOWN_EVENT, problem.message, problem.fix))
    return findings


def _strings(expr: ast.expr) -> Iterator[ast.Constant]:
    """String literals of ``expr``, itself or as a direct element of a tuple or list."""
    elements = expr.elts if isinstance(expr, ast.Tuple | ast.List) else [expr]
    for element in elements:
        if isinstance(element, ast.Constant) and isinstance(element.value, str):
            yield element


def _event_literals(tree: ast.Module) -> Iterator[tuple[ast.Constant, bool]]:
    """Candidate event-name literals, each with whether it needs the strict shape."""
    for _, literal in _py_messages.message_literals(tree):
        yield literal, False
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = (call_name(node) or "").lower()
            if name in EVENT_CALLS or name in WEAK_EVENT_CALLS:
                for arg in node.args[:1]:
                    for literal in _strings(arg):
                        yield literal, name in WEAK_EVENT_CALLS
            for kw in node.keywords:
                if kw.arg in EVENT_SLOTS:
                    yield from ((literal, False) for literal in _strings(kw.value))
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value in EVENT_SLOTS:
                    yield from ((literal, False) for literal in _strings(value))
        elif isinstance(node, ast.Assign):
            if any(terminal_name(t) in EVENT_SLOTS for t in node.targets):
                yield from ((literal, False) for literal in _strings(node.value))
        elif (
            isinstance(node, ast.AnnAssign)
            and node.value is not None
            and terminal_name(node.target) in EVENT_SLOTS
        ):
            yield from ((literal, False) for literal in _strings(node.value))
