"""SAGA-L002: messages, events and external calls without a proper correlation/causation id.

What is a message is ``_py_messages``' business: sends that build their message inline
(to any receiver: a bus, a queue, a mailer, an HTTP client, ``ctx.mailer``), message
literals holding an event or command name wherever they are built, and ``Envelope(...)``
(which may pass the ids positionally, third and fourth). Each is reported when:

- it passes no ``correlation_id`` or no ``causation_id``;
- it sets one to ``None`` or ``""`` (the seed's ``causation_id: nil``, DRIFT-004);
- inside a step, compensation or handler (a function taking ``ctx``/``context``/a message,
  or named ``*compensat*``, ``*undo*``, ``*rollback*``, ``*step*``, ``handle_*``, ``on_*``),
  an id is freshly generated (``uuid4()``, ``new_id()``... directly or through a local
  variable) instead of taken from the message being handled. A fallback
  (``msg.correlation_id or uuid4()``) is taken from the message and is fine.

Not reported: ``ctx.send(target, command, payload)`` on the step context itself (sagacrew's
``StepContext.send`` adds both ids); a send of one message object (``Envelope(...)``,
``.caused(...)``, a variable named ``message``, ``env``, ``*_event``...), which carries its
own ids; calls and dicts spreading ``**kwargs`` (the ids may be in them).
"""

from __future__ import annotations

import ast

from sagacrew.agents.validator import _py_messages as msgs
from sagacrew.agents.validator._astutil import LintContext, call_name, chain_names
from sagacrew.agents.validator.findings import MISSING_IDS, Finding

FIX = (
    "pass correlation_id= and causation_id= (derive them from the message being handled, "
    "e.g. Envelope.caused) or send through the step context (ctx.send adds both)"
)
FIX_FRESH = (
    "take the id from the message being handled (ctx.correlation_id, "
    "message.correlation_id); generate one only where a flow starts"
)
FRESH_NAMES = frozenset(
    {"new_id", "ulid", "token_hex", "token_urlsafe", "generate_id", "make_id", "objectid"}
)
STEP_PARAMS = frozenset(
    {"ctx", "context", "step_context", "message", "msg", "event", "env", "envelope", "command"}
)
STEP_WORDS = ("compensat", "undo", "rollback", "step")
FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef


def check(ctx: LintContext) -> list[Finding]:
    """Every message of the module whose ids are missing, empty or freshly made."""
    parents = {child: node for node in ast.walk(ctx.tree) for child in ast.iter_child_nodes(node)}
    findings: list[Finding] = []
    seen: set[int] = set()
    for node in ast.walk(ctx.tree):
        if not isinstance(node, ast.Call):
            continue
        name = call_name(node) or ""
        if name == "Envelope":
            ids = msgs.call_ids(node)
            for field, arg in zip(msgs.ID_FIELDS, node.args[2:4], strict=False):
                if ids is not None:
                    ids.setdefault(field, arg)
        elif msgs.is_send(node):
            seen.update(id(arg) for arg in node.args)
            if msgs.carries_ids_elsewhere(node) or not msgs.builds_inline(node):
                continue
            ids = msgs.call_ids(node)
        else:
            continue
        seen.add(id(node))
        finding = _judge(ctx, node, f"call to {name}()", ids, parents)
        if finding is not None:
            findings.append(finding)
    for literal, event in msgs.message_literals(ctx.tree):
        if id(literal) in seen:
            continue
        seen.add(id(literal))
        parent = parents.get(literal)
        if isinstance(literal, ast.Call):
            ids = msgs.call_ids(literal)
        elif isinstance(parent, ast.Call) and literal in parent.args:
            ids = msgs.call_ids(parent)
        else:
            ids = msgs.dict_ids(literal)
        name = event.value if isinstance(event.value, str) else ""
        finding = _judge(ctx, literal, f"message '{name}'", ids, parents)
        if finding is not None:
            findings.append(finding)
    return findings


def _judge(
    ctx: LintContext,
    node: ast.AST,
    subject: str,
    ids: msgs.IdValues | None,
    parents: dict[ast.AST, ast.AST],
) -> Finding | None:
    if ids is None:
        return None
    missing = [field for field in msgs.ID_FIELDS if field not in ids]
    empty = [field for field, value in ids.items() if _is_empty(value)]
    parts: list[str] = []
    if missing:
        parts.append(f"without {' and '.join(missing)}")
    if empty:
        parts.append(f"with {' and '.join(sorted(empty))} set to None or empty")
    fix = FIX
    step = _enclosing_step(node, parents)
    if step is not None:
        fresh_vars = _fresh_variables(step)
        fresh = [
            field
            for field, value in sorted(ids.items())
            if not _is_empty(value) and _is_fresh(value, fresh_vars)
        ]
        if fresh:
            parts.append(
                f"with a freshly generated {' and '.join(fresh)} inside {step.name}() "
                "(it starts a new chain instead of continuing the handled message's)"
            )
            fix = FIX if missing or empty else FIX_FRESH
    if not parts:
        return None
    return ctx.finding(node, MISSING_IDS, f"{subject} {', '.join(parts)}", fix)


def _is_empty(expr: ast.expr) -> bool:
    return isinstance(expr, ast.Constant) and expr.value in (None, "")


def _is_fresh(expr: ast.expr, fresh_vars: set[str]) -> bool:
    """True for an id made on the spot (``str(uuid.uuid4())``) or a variable bound to one."""
    if isinstance(expr, ast.BoolOp | ast.IfExp):
        return False
    if isinstance(expr, ast.Name):
        return expr.id in fresh_vars
    return any(
        isinstance(node, ast.Call) and _is_id_generator(node)
        for node in ast.walk(expr)
        if not isinstance(node, ast.BoolOp | ast.IfExp)
    )


def _is_id_generator(call: ast.Call) -> bool:
    name = (call_name(call) or "").lower()
    owners = [part.lower() for part in chain_names(call.func)[:-1]]
    return (
        "uuid" in name
        or name in FRESH_NAMES
        or (name in {"new", "generate"} and any("uuid" in o or "ulid" in o for o in owners))
    )


def _fresh_variables(func: FunctionNode) -> set[str]:
    fresh: set[str] = set()
    for node in ast.walk(func):
        if isinstance(node, ast.Assign) and _is_fresh(node.value, set()):
            fresh.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return fresh


def _enclosing_step(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> FunctionNode | None:
    """The step, compensation or handler function around ``node``, if it is one."""
    current = parents.get(node)
    while current is not None and not isinstance(current, ast.FunctionDef | ast.AsyncFunctionDef):
        current = parents.get(current)
    if current is None:
        return None
    name = current.name.lower().lstrip("_")
    params = [*current.args.posonlyargs, *current.args.args, *current.args.kwonlyargs]
    annotations = [
        part for p in params if p.annotation is not None for part in chain_names(p.annotation)
    ]
    if (
        any(word in name for word in STEP_WORDS)
        or name.startswith(("handle_", "on_"))
        or any(p.arg in STEP_PARAMS for p in params)
        or any(a.endswith(("Context", "Envelope", "Message", "Event")) for a in annotations)
    ):
        return current
    return None
