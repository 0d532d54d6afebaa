"""SAGA-L002 and SAGA-L003 for Elixir: the ids and the names of outgoing messages.

- A *send* is a call named ``publish``, ``publish_event``, ``emit``, ``emit_event``,
  ``broadcast``, ``dispatch``, ``deliver``, ``enqueue``, ``post`` or ``notify`` that passes a
  map or keyword list, or a call named ``send_*``, ``publish_*``, ``emit_*``, ``deliver_*``,
  ``notify_*``, ``dispatch_*`` or ``enqueue_*`` with two or more arguments
  (``MagicLinkSender.send_magic_link(email, token, redirect)``, GAP-004). Process and
  Plug sends (``send/2``, ``Process.send_after``, ``send_resp``...) are not messages.
- A *message literal* is a map or keyword list holding an event or command name (an
  ``event``/``event_type``/``event_name``/``command`` key with a dotted name, or ``name``/
  ``type`` with three or more segments), built in code: patterns (function heads,
  ``case`` clauses, the left of ``=`` and ``<-``) are not messages.

SAGA-L002 reports a send or message literal (at its call) that lacks ``correlation_id`` or
``causation_id`` (in its maps or keywords, one nested map too), sets one to ``nil`` or
``""`` (DRIFT-004), or, inside a step (a Reactor ``run``/``compensate``/``undo`` function,
a ``run/3``, ``compensate/4``, ``undo/4`` or ``handle_*`` function), takes one freshly from
``UUID.uuid4()``, ``Ecto.UUID.generate()``... instead of from the handled message; a
fallback (``input.correlation_id || UUID.uuid4()``) is fine. A map update
(``%{event | name: ...}``) may hold the ids and is not judged.

SAGA-L003 judges every event name found (in message literals, patterns included, and as
the first string argument of ``publish``/``publish_event``/``emit``/``emit_event``) by the
naming rules and, when given, the taxonomy (``_event_names``).
"""

from __future__ import annotations

from collections.abc import Iterator

from sagacrew.agents.validator import _elixir_tree as ex
from sagacrew.agents.validator import _event_names
from sagacrew.agents.validator._py_messages import EVENT_KEYS, ID_FIELDS, NAME_KEYS, id_field
from sagacrew.agents.validator.findings import MISSING_IDS, UNKNOWN_EVENT, Finding

SEND_VERBS = frozenset(
    {"publish", "publish_event", "emit", "emit_event", "broadcast", "dispatch", "deliver"}
    | {"enqueue", "post", "notify"}
)
SEND_PREFIXES = ("send_", "publish_", "emit_", "deliver_", "notify_", "dispatch_", "enqueue_")
NOT_SENDS = frozenset(
    {"send_resp", "send_file", "send_chunked", "send_download", "send_update"}
    | {"send_update_after", "send_after", "send_interval"}
)
PROCESS_MODULES = frozenset({"Process", "Kernel", "GenServer", "Agent", "Task", ":erlang"})
EVENT_CALLS = frozenset({"publish", "publish_event", "emit", "emit_event"})
STEP_MACROS = frozenset({"run", "compensate", "undo"})
STEP_FUNCTIONS = ("run", "compensate", "undo", "handle_")
FIX = (
    "pass correlation_id: and causation_id: taken from the step's input (the triggering "
    "event's ids: causation_id is that event's id)"
)
FIX_FRESH = (
    "take the id from the handled message or the saga's input; "
    "generate one only where a flow starts"
)
PAYLOADS = frozenset({"map", "keywords", "list"})
"""Argument node types that carry a message's fields."""


def check(ctx: ex.ElixirContext) -> list[Finding]:
    """Every SAGA-L002 and SAGA-L003 finding of the file."""
    findings: list[Finding] = []
    judged: set[int] = set()
    for node in ex.walk(ctx.root):
        if node.type == "call" and _is_send(node):
            judged.update(arg.id for arg in ex.args(node))
            module, name = ex.call_parts(node)
            subject = f"call to {module + '.' if module else ''}{name}()"
            findings.extend(_judge_ids(ctx, node, subject, ex.args(node)))
    for literal, event in _message_literals(ctx.root):
        if literal.id in judged or _in_pattern(literal):
            continue
        holder = literal.parent
        if holder is not None and holder.type == "arguments" and holder.parent is not None:
            call = holder.parent
            judged.update(arg.id for arg in ex.args(call))
            findings.extend(_judge_ids(ctx, call, f"message '{event}'", ex.args(call)))
        else:
            findings.extend(_judge_ids(ctx, literal, f"message '{event}'", [literal]))
    for string in _event_strings(ctx.root):
        name = ex.string_value(string) or ""
        problem = _event_names.problem(name, ctx.taxonomy)
        if problem is not None:
            findings.append(ctx.finding(string, UNKNOWN_EVENT, problem.message, problem.fix))
    return findings


def _is_send(call: ex.Node) -> bool:
    module, name = ex.call_parts(call)
    if not name or name in NOT_SENDS or module in PROCESS_MODULES or name == "send":
        return False
    arguments = ex.args(call)
    if name in SEND_VERBS:
        return any(a.type in PAYLOADS for a in arguments)
    return name.startswith(SEND_PREFIXES) and (
        len(arguments) >= 2 or any(a.type in PAYLOADS for a in arguments)
    )


def _name_of(key: str, value: ex.Node) -> str | None:
    name = ex.string_value(value) if value.type == "string" else None
    if name is None or not _event_names.is_event_like(name):
        return None
    if key in EVENT_KEYS or (key in NAME_KEYS and name.count(".") >= 2):
        return name
    return None


def _payload_roots(root: ex.Node) -> Iterator[ex.Node]:
    """Maps, keyword lists and bare keywords, each once (not a map's or list's own)."""
    for node in ex.walk(root):
        if node.type == "keywords":
            if node.parent is None or node.parent.type in {"map_content", "list"}:
                continue
        elif node.type not in {"map", "list"}:
            continue
        yield node


def _message_literals(root: ex.Node) -> Iterator[tuple[ex.Node, str]]:
    for node in _payload_roots(root):
        for key, _, value in ex.pairs(node):
            name = _name_of(key, value)
            if name is not None:
                yield node, name
                break


def _event_strings(root: ex.Node) -> Iterator[ex.Node]:
    for node in ex.walk(root):
        if node.type == "call" and ex.call_parts(node)[1] in EVENT_CALLS:
            first = next(iter(ex.args(node)), None)
            if first is not None and first.type == "string":
                name = ex.string_value(first)
                if name is not None and _event_names.is_event_like(name):
                    yield first
    for node in _payload_roots(root):
        for key, _, value in ex.pairs(node):
            if _name_of(key, value) is not None:
                yield value


def _in_pattern(node: ex.Node) -> bool:
    child, parent = node, node.parent
    while parent is not None:
        if parent.type == "stab_clause" and parent.child_by_field_name("left") == child:
            return True
        if (
            parent.type == "binary_operator"
            and ex.operator(parent) in {"=", "<-", "when"}
            and parent.child_by_field_name("left") == child
        ):
            return True
        if parent.type == "call" and ex.call_parts(parent)[1] in ex.DEFINERS:
            return bool(child.type == "arguments")
        child, parent = parent, parent.parent
    return False


def _ids(payloads: list[ex.Node]) -> dict[str, ex.Node] | None:
    found: dict[str, ex.Node] = {}
    for payload in payloads:
        if payload.type not in PAYLOADS:
            continue
        if any(c.type == "binary_operator" and ex.operator(c) == "|" for c in ex.walk(payload)):
            return None
        for key, _, value in ex.pairs(payload):
            field = id_field(key)
            if field is not None:
                found.setdefault(field, value)
            elif value.type in PAYLOADS:
                for inner_key, _, inner in ex.pairs(value):
                    inner_field = id_field(inner_key)
                    if inner_field is not None:
                        found.setdefault(inner_field, inner)
    return found


def _judge_ids(
    ctx: ex.ElixirContext, node: ex.Node, subject: str, payloads: list[ex.Node]
) -> list[Finding]:
    ids = _ids(payloads)
    if ids is None:
        return []
    missing = [field for field in ID_FIELDS if field not in ids]
    empty = [f for f, v in sorted(ids.items()) if v.type == "nil" or ex.string_value(v) == ""]
    parts: list[str] = []
    if missing:
        parts.append(f"without {' and '.join(missing)}")
    if empty:
        parts.append(f"with {' and '.join(empty)} set to nil or empty")
    step = _enclosing_step(node)
    fix = FIX
    if step is not None:
        fresh_vars = _fresh_variables(step)
        fresh = [f for f, v in sorted(ids.items()) if f not in empty and _is_fresh(v, fresh_vars)]
        if fresh:
            parts.append(
                f"with a freshly generated {' and '.join(fresh)} inside a step "
                "(it starts a new chain instead of continuing the handled message's)"
            )
            fix = FIX if missing or empty else FIX_FRESH
    if not parts:
        return []
    return [ctx.finding(node, MISSING_IDS, f"{subject} {', '.join(parts)}", fix)]


def _is_generator(node: ex.Node) -> bool:
    module, name = ex.call_parts(node)
    owner = (module or "").lower()
    return "uuid" in owner or "ulid" in owner or "uuid" in name.lower()


def _is_fresh(value: ex.Node, fresh_vars: set[str]) -> bool:
    if value.type == "identifier":
        return ex.text(value) in fresh_vars
    if value.type == "binary_operator" and ex.operator(value) in {"||", "or"}:
        return False
    return value.type == "call" and _is_generator(value)


def _fresh_variables(scope: ex.Node) -> set[str]:
    fresh: set[str] = set()
    for node in ex.walk(scope):
        if node.type == "binary_operator" and ex.operator(node) == "=":
            left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
            if left is not None and right is not None and left.type == "identifier":
                fresh.update([ex.text(left)] if _is_fresh(right, set()) else [])
    return fresh


def _enclosing_step(node: ex.Node) -> ex.Node | None:
    """The step function (Reactor ``run``/``compensate``/``undo`` fn, ``handle_*``) around."""
    for scope in ex.enclosing(node, {"anonymous_function", "call"}):
        if scope.type == "anonymous_function":
            holder = scope.parent.parent if scope.parent is not None else None
            if holder is not None and ex.call_parts(holder) in {(None, m) for m in STEP_MACROS}:
                return scope
        elif ex.call_parts(scope)[1] in ex.DEFINERS:
            head = ex.args(scope)
            signature = ex.text(head[0]) if head else ""
            return scope if signature.startswith(STEP_FUNCTIONS) else None
    return None
