"""SAGA-L002: messages, events and external calls sent without correlation/causation ids.

A *send* is a call of a function or method named ``send``, ``tell``, ``ask``,
``publish``, ``publish_event``, ``emit``, ``dispatch`` or ``send_*``, or an
``Envelope(...)`` construction. A send is reported when it builds its message inline
(keyword arguments other than ``timeout*``/``sender``/``reply_to``, two or more
positional arguments, or a dict literal) and does not pass both ``correlation_id`` and
``causation_id``, as keywords or dict keys. An id passed as ``None`` counts as missing.

Not reported: sends through an object that carries the ids (a receiver chain naming
``ctx``, ``context`` or ``step``: ``StepContext.send`` adds both); sends of a message object
(an argument built by ``Envelope(...)``, ``.caused(...)``, ``.origin(...)``, or a
variable named ``env``, ``message``, ``msg``, ``item``, ``event``, ``evt``, ``command``,
``cmd``, ``*envelope*`` or ending in ``_env``/``_message``/``_msg``/``_event``/
``_command``/``_cmd``): such an object carries its own ids; calls passing ``**kwargs``
(the ids may be in them); a single positional argument that is not a dict literal.
``Envelope(name, payload, correlation_id, causation_id)`` may pass the ids positionally.
"""

from __future__ import annotations

import ast

from sagacrew.agents.validator._astutil import (
    LintContext,
    call_name,
    chain_names,
    receiver,
    terminal_name,
)
from sagacrew.agents.validator.findings import MISSING_IDS, Finding

SEND_NAMES = frozenset({"send", "tell", "ask", "publish", "publish_event", "emit", "dispatch"})
ID_FIELDS = ("correlation_id", "causation_id")
CONTEXT_RECEIVERS = frozenset({"ctx", "context", "step"})
CONTROL_KEYWORDS = frozenset({"sender", "reply_to"})
ENVELOPE_FACTORIES = frozenset({"Envelope", "caused", "origin"})
MESSAGE_NAMES = frozenset({"env", "message", "msg", "item", "event", "evt", "command", "cmd"})
"""Variable names taken to hold a whole message object, which carries its own ids."""
MESSAGE_SUFFIXES = ("_env", "_message", "_msg", "_event", "_command", "_cmd")

FIX = (
    "pass correlation_id= and causation_id= (derive them from the message being handled, "
    "e.g. Envelope.caused) or send through the step context (ctx.send adds both)"
)


def check(ctx: LintContext) -> list[Finding]:
    """Every send in the module that lacks one or both ids."""
    findings: list[Finding] = []
    for node in ast.walk(ctx.tree):
        if not isinstance(node, ast.Call):
            continue
        name = call_name(node)
        if name is None:
            continue
        if name == "Envelope":
            missing = _missing_ids(node, positional_ids=len(node.args) - 2)
        elif name in SEND_NAMES or name.startswith("send_"):
            if _carries_ids_elsewhere(node) or not _builds_message_inline(node):
                continue
            missing = _missing_ids(node, positional_ids=0)
        else:
            continue
        if missing:
            what = " and ".join(missing)
            findings.append(ctx.finding(node, MISSING_IDS, f"call to {name}() without {what}", FIX))
    return findings


def _is_none(expr: ast.expr) -> bool:
    return isinstance(expr, ast.Constant) and expr.value is None


def _missing_ids(call: ast.Call, *, positional_ids: int) -> list[str]:
    """The id fields ``call`` does not pass (empty when unknowable, e.g. ``**kwargs``)."""
    if any(kw.arg is None for kw in call.keywords) or any(
        isinstance(a, ast.Starred) for a in call.args
    ):
        return []
    present: set[str] = set(ID_FIELDS[: max(positional_ids, 0)])
    for kw in call.keywords:
        if kw.arg in ID_FIELDS and not _is_none(kw.value):
            present.add(kw.arg)
    for arg in call.args:
        if isinstance(arg, ast.Dict):
            for key, value in zip(arg.keys, arg.values, strict=True):
                if key is None:
                    return []
                if isinstance(key, ast.Constant) and key.value in ID_FIELDS and not _is_none(value):
                    present.add(str(key.value))
    return [field for field in ID_FIELDS if field not in present]


def _carries_ids_elsewhere(call: ast.Call) -> bool:
    """True when a context object or an envelope argument carries the ids."""
    recv = receiver(call)
    if recv is not None and CONTEXT_RECEIVERS.intersection(chain_names(recv)):
        return True
    return any(_is_envelope(arg) for arg in call.args) or any(
        _is_envelope(kw.value) for kw in call.keywords
    )


def _is_envelope(expr: ast.expr) -> bool:
    """True for an expression that evidently holds a whole message (with its ids)."""
    if isinstance(expr, ast.Await):
        expr = expr.value
    if isinstance(expr, ast.Call):
        return call_name(expr) in ENVELOPE_FACTORIES
    last = terminal_name(expr)
    if last is None:
        return False
    last = last.lower()
    return (
        last in MESSAGE_NAMES
        or "envelope" in last
        or last.startswith("env_")
        or last.endswith(MESSAGE_SUFFIXES)
    )


def _builds_message_inline(call: ast.Call) -> bool:
    data_keywords = [
        kw
        for kw in call.keywords
        if kw.arg is not None
        and kw.arg not in CONTROL_KEYWORDS
        and not kw.arg.startswith("timeout")
    ]
    return (
        bool(data_keywords)
        or len(call.args) >= 2
        or any(isinstance(arg, ast.Dict) for arg in call.args)
    )
