"""SAGA-L004 for Elixir: polling loops where a completion event should be awaited (GAP-007).

A *sleep* is ``Process.sleep(t)`` or ``:timer.sleep(t)`` with ``t`` other than a literal 0.
Its *loop* is the innermost of: a function given to ``Enum``/``Stream`` iteration
(``Enum.reduce_while``, ``Enum.each``, ``Stream.iterate``...), a ``for`` comprehension, or
the ``def``/``defp`` around it when that function calls itself (recursion). The loop is a
polling loop when it re-checks a status: a ``case`` subject or pattern, an ``if``/
``unless``/``cond`` condition, a guard or a comparison naming ``status``, ``state``,
``done``, ``complete``, ``ready`` or ``poll`` (an identifier, atom, key or string). A
retry with backoff that checks ``{:ok, _}``/``{:error, _}`` and a heartbeat loop that
checks nothing are not polling; neither is an HTTP status check (``status_code``).
"""

from __future__ import annotations

from sagacrew.agents.validator import _elixir_tree as ex
from sagacrew.agents.validator._rule_polling import HTTP_STATUS, STATUS_WORDS
from sagacrew.agents.validator.findings import POLLING_LOOP, Finding

LOOP_MODULES = frozenset({"Enum", "Stream"})
CHECKS = frozenset({"case", "if", "unless", "cond", "with"})
COMPARISONS = frozenset({"==", "!=", "===", "!==", "in", "=~", "when", "<-"})
WORD_NODES = frozenset({"identifier", "atom", "keyword", "quoted_content", "quoted_atom"})
FIX = (
    "wait for the completion event (subscribe to it, or resume the saga with "
    "Reactor's continuation when it arrives) instead of polling"
)


def check(ctx: ex.ElixirContext) -> list[Finding]:
    """Every polling loop of the file, once each, in source order."""
    loops: dict[int, tuple[ex.Node, ex.Node]] = {}
    for node in ex.walk(ctx.root):
        if node.type != "call" or not _is_sleep(node):
            continue
        loop = _loop_of(node)
        if loop is not None and loop.id not in loops and _checks_status(loop):
            loops[loop.id] = (loop, node)
    findings = []
    for loop, sleep in sorted(loops.values(), key=lambda pair: pair[0].start_byte):
        delay = ex.args(sleep)
        every = f" every {ex.text(delay[0])} ms" if delay and delay[0].type == "integer" else ""
        findings.append(
            ctx.finding(
                _anchor(loop),
                POLLING_LOOP,
                f"polling loop: sleeps{every} (line {sleep.start_point[0] + 1}) "
                "and re-checks a status",
                FIX,
            )
        )
    return findings


def _is_sleep(call: ex.Node) -> bool:
    if ex.call_parts(call) not in {("Process", "sleep"), (":timer", "sleep")}:
        return False
    delay = ex.args(call)
    return not (delay and ex.text(delay[0]) == "0")


def _loop_of(sleep: ex.Node) -> ex.Node | None:
    for scope in ex.enclosing(sleep, {"anonymous_function", "call"}):
        if scope.type == "anonymous_function":
            holder = scope.parent.parent if scope.parent is not None else None
            if holder is not None and ex.call_parts(holder)[0] in LOOP_MODULES:
                return scope
            continue
        module, name = ex.call_parts(scope)
        if (module, name) == (None, "for") and ex.do_block(scope) is not None:
            return scope
        if module is None and name in ex.DEFINERS:
            return scope if _is_recursive(scope) else None
    return None


def _is_recursive(definition: ex.Node) -> bool:
    head = ex.args(definition)
    if not head:
        return False
    signature = head[0]
    if signature.type == "binary_operator":
        signature = signature.child_by_field_name("left") or signature
    own = ex.call_parts(signature)[1] if signature.type == "call" else ex.text(signature)
    body = ex.do_block(definition)
    if body is None:
        return False
    return any(
        node.type == "call" and ex.call_parts(node) in {(None, own), ("__MODULE__", own)}
        for node in ex.walk(body)
    )


def _checks_status(loop: ex.Node) -> bool:
    region = ex.do_block(loop) if loop.type == "call" else loop
    if region is None:
        return False
    for node in ex.walk(region):
        checked: list[ex.Node] = []
        if node.type == "call" and ex.call_parts(node) in {(None, c) for c in CHECKS}:
            checked.extend(ex.args(node))
            block = ex.do_block(node)
            for clause in [] if block is None else block.named_children:
                left = clause.child_by_field_name("left") if clause.type == "stab_clause" else None
                if left is not None:
                    checked.append(left)
        elif node.type == "binary_operator" and ex.operator(node) in COMPARISONS:
            checked.append(node)
        if any(_mentions_status(n) for n in checked):
            return True
    return False


def _mentions_status(node: ex.Node) -> bool:
    for leaf in ex.walk(node):
        if leaf.type not in WORD_NODES:
            continue
        word = ex.text(leaf).lower()
        if any(h in word for h in HTTP_STATUS):
            continue
        if any(w in word for w in STATUS_WORDS):
            return True
    return False


def _anchor(loop: ex.Node) -> ex.Node:
    """Where to report: the ``Enum``/``Stream`` call holding the loop's fn, else the loop."""
    if loop.type == "anonymous_function" and loop.parent is not None:
        return loop.parent.parent or loop
    return loop
