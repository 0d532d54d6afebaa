"""Outgoing messages in Python code, found by what they carry rather than by receiver names.

- A *send* is a call of ``send``, ``tell``, ``ask``, ``publish``, ``publish_event``,
  ``emit``, ``emit_event``, ``dispatch``, ``post``, ``broadcast``, ``deliver``,
  ``enqueue``, ``produce`` or a name starting with ``send_``, ``publish_``, ``emit_``,
  ``dispatch_``, ``deliver_``, ``notify_`` or ``enqueue_`` (``send_signal`` and the like
  excepted), whatever it is called on: a bus, a queue, a mailer, an HTTP client, ``ctx.x``.
  It *builds its message inline* when it passes data keywords (not ``timeout*``,
  ``sender``, ``reply_to``), two or more positional arguments, or a dict literal.
  An HTTP ``post`` builds one only with a ``json=``/``data=``/``content=``/``body=``.
- A *message literal* is a dict literal, or the keyword arguments of an event or message
  constructor (a callee named ``*event*`` or ``*message*``, not ``*handler``), holding an
  event or command name: an ``event``/``event_type``/``event_name``/``message_type``/
  ``command`` key with a dotted name (``user.magic_link.sent``), or a ``name``/``type`` key
  with a name of three or more segments (``ml.run.completed``).

Ids are looked for in the keywords and dict literals of a send (one level of nesting, so
``headers={"X-Correlation-ID": cid}`` counts); a key counts when, lowercased with
non-alphanumerics dropped, it contains ``correlationid`` or ``causationid``. A variable passed
as ``headers=``/``metadata=`` may hold them: such a call is not judged.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from sagacrew.agents.validator._astutil import call_name, chain_names, receiver, terminal_name
from sagacrew.agents.validator._event_names import is_event_like

SEND_VERBS = frozenset(
    {
        "send",
        "tell",
        "ask",
        "publish",
        "publish_event",
        "emit",
        "emit_event",
        "dispatch",
        "post",
        "broadcast",
        "deliver",
        "enqueue",
        "produce",
    }
)
SEND_PREFIXES = ("send_", "publish_", "emit_", "dispatch_", "deliver_", "notify_", "enqueue_")
NOT_SENDS = frozenset({"send_signal", "send_bytes", "send_header", "send_error", "send_response"})
NOT_CONSTRUCTORS = ("handler", "listener", "subscription", "subscriber")
HTTP_BODIES = frozenset({"json", "data", "content", "body"})
"""An HTTP ``post`` builds a message only with one of these (``@router.post(...)`` does not)."""
CONTROL_KEYWORDS = frozenset({"sender", "reply_to"})
ID_FIELDS = ("correlation_id", "causation_id")
EVENT_KEYS = frozenset({"event", "event_type", "event_name", "message_type", "command"})
NAME_KEYS = frozenset({"name", "type"})
STEP_CONTEXTS = frozenset({"ctx", "context", "step_context", "step_ctx"})
"""``StepContext.send(target, command, payload)`` adds both ids (sagacrew's runtime)."""
ENVELOPE_FACTORIES = frozenset({"Envelope", "caused", "origin", "envelope"})
MESSAGE_NAMES = frozenset({"env", "message", "msg", "item", "event", "evt", "command", "cmd"})
MESSAGE_SUFFIXES = ("_env", "_message", "_msg", "_event", "_command", "_cmd")

ID_CARRIERS = frozenset({"headers", "metadata", "meta", "trace", "tracing"})
"""Keywords whose non-literal value may hold the ids (``headers=trace_headers(msg)``)."""

IdValues = dict[str, ast.expr]
"""The id fields a message passes, with their value expressions."""


def is_send(call: ast.Call) -> bool:
    """True for a call named like a send (see the module docstring)."""
    name = call_name(call)
    if name is None or name in NOT_SENDS:
        return False
    return name in SEND_VERBS or name.startswith(SEND_PREFIXES)


def _is_message_constructor(call: ast.Call) -> bool:
    name = (call_name(call) or "").lower()
    return ("event" in name or "message" in name) and not name.endswith(NOT_CONSTRUCTORS)


def builds_inline(call: ast.Call) -> bool:
    """True when the call passes its message's fields rather than one message object."""
    if call_name(call) == "post":
        return any(kw.arg in HTTP_BODIES for kw in call.keywords) or any(
            isinstance(a, ast.Dict) for a in call.args
        )
    data = [
        kw
        for kw in call.keywords
        if kw.arg is not None
        and kw.arg not in CONTROL_KEYWORDS
        and not kw.arg.startswith("timeout")
    ]
    return bool(data) or len(call.args) >= 2 or any(isinstance(a, ast.Dict) for a in call.args)


def carries_ids_elsewhere(call: ast.Call) -> bool:
    """True for ``ctx.send(...)`` on the step context itself, and for message-object args."""
    recv = receiver(call)
    if (
        call_name(call) == "send"
        and recv is not None
        and (chain_names(recv)[-1:] or [""])[0] in STEP_CONTEXTS
    ):
        return True
    values = [*call.args, *(kw.value for kw in call.keywords)]
    return any(_is_message_object(value) for value in values)


def _is_message_object(expr: ast.expr) -> bool:
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


def id_field(key: str) -> str | None:
    """``correlation_id`` or ``causation_id`` when ``key`` names one (``X-Correlation-ID``)."""
    folded = re.sub(r"[^a-z0-9]", "", key.lower())
    for field in ID_FIELDS:
        if field.replace("_", "") in folded:
            return field
    return None


def call_ids(call: ast.Call) -> IdValues | None:
    """The ids a call passes (keywords, dict-literal arguments), or None when unknowable."""
    if any(kw.arg is None for kw in call.keywords) or any(
        isinstance(a, ast.Starred) for a in call.args
    ):
        return None
    found: IdValues = {}
    for kw in call.keywords:
        field = id_field(kw.arg or "")
        if field is not None:
            found.setdefault(field, kw.value)
        elif isinstance(kw.value, ast.Dict):
            if not _merge_dict(found, kw.value):
                return None
        elif kw.arg in ID_CARRIERS:
            return None
    for arg in call.args:
        if isinstance(arg, ast.Dict) and not _merge_dict(found, arg):
            return None
    return found


def dict_ids(node: ast.Dict) -> IdValues | None:
    """The ids a dict literal holds (one nested dict level too), or None with ``**spread``."""
    found: IdValues = {}
    return found if _merge_dict(found, node) else None


def _merge_dict(found: IdValues, node: ast.Dict, depth: int = 0) -> bool:
    for key, value in zip(node.keys, node.values, strict=True):
        if key is None:
            return False
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            field = id_field(key.value)
            if field is not None:
                found.setdefault(field, value)
                continue
        if isinstance(value, ast.Dict) and depth == 0 and not _merge_dict(found, value, 1):
            return False
    return True


def name_literal(key: str | None, value: ast.expr) -> ast.Constant | None:
    """The event/command name string in a ``key: value`` slot of a message, else None."""
    if not isinstance(value, ast.Constant) or not isinstance(value.value, str):
        return None
    if key in EVENT_KEYS and is_event_like(value.value):
        return value
    if key in NAME_KEYS and value.value.count(".") >= 2 and is_event_like(value.value):
        return value
    return None


def message_literals(tree: ast.AST) -> Iterator[tuple[ast.Dict | ast.Call, ast.Constant]]:
    """Every dict literal or keyword call holding an event/command name, with that name."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                key_text = key.value if isinstance(key, ast.Constant) else None
                literal = name_literal(key_text if isinstance(key_text, str) else None, value)
                if literal is not None:
                    yield node, literal
                    break
        elif isinstance(node, ast.Call) and _is_message_constructor(node):
            for kw in node.keywords:
                literal = name_literal(kw.arg, kw.value)
                if literal is not None:
                    yield node, literal
                    break
