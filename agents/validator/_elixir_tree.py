"""Elixir source as a tree-sitter tree, and the helpers the Elixir rules read it with.

Parsing needs the ``tree-sitter`` and ``tree-sitter-elixir`` packages (dependencies of
sagacrew). Nodes are tree-sitter's; lines and columns in findings are 1-based.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from sagacrew.agents.validator.errors import LintError
from sagacrew.agents.validator.findings import Finding

Node = Any
"""A ``tree_sitter.Node`` (typed loosely: the binding ships no stubs for every version)."""

LOG_MODULES = frozenset({"Logger", ":logger", "IO"})
DEFINERS = frozenset({"def", "defp"})


@cache
def _parser() -> Any:
    try:
        import tree_sitter
        import tree_sitter_elixir
    except ImportError as exc:
        raise LintError(
            "<elixir>",
            f"Elixir support is not installed ({exc.name} is missing)",
            "pip install tree-sitter tree-sitter-elixir",
        ) from exc
    return tree_sitter.Parser(tree_sitter.Language(tree_sitter_elixir.language()))


def parse(source: str) -> Node:
    """The root node of ``source``'s syntax tree (tree-sitter recovers from errors)."""
    return _parser().parse(source.encode("utf-8")).root_node


@dataclass
class ElixirContext:
    """One Elixir file being linted: its path, root node, comments by line, and taxonomy."""

    path: str
    root: Node
    comments: dict[int, str] = field(default_factory=dict)
    taxonomy: Collection[str] | None = None

    def finding(self, node: Node, rule: str, message: str, fix: str) -> Finding:
        """A finding at ``node``'s start (1-based line and column)."""
        row, column = node.start_point
        return Finding(self.path, row + 1, column + 1, rule, message, fix)


def text(node: Node) -> str:
    """The source text of ``node``."""
    return bytes(node.text or b"").decode("utf-8", errors="replace")


def walk(node: Node) -> Iterator[Node]:
    """``node`` and every node below it, in source order."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(current.children))


def comments(root: Node) -> dict[int, str]:
    """Comment text (with the ``#``) by 1-based line."""
    return {n.start_point[0] + 1: text(n) for n in walk(root) if n.type == "comment"}


def first_error(root: Node) -> Node | None:
    """The first syntax error (an ``ERROR`` or missing node), or None."""
    if not root.has_error:
        return None
    return next((n for n in walk(root) if n.type == "ERROR" or n.is_missing), root)


def call_parts(call: Node) -> tuple[str | None, str]:
    """``(module, function)`` of a call: ``Logger.info(x)`` -> ``("Logger", "info")``,
    ``step :x do`` -> ``(None, "step")``; ``("", "")`` for anonymous calls (``f.(x)``)."""
    target = call.child_by_field_name("target")
    if target is None:
        return None, ""
    if target.type == "identifier":
        return None, text(target)
    if target.type == "dot":
        left, right = target.child_by_field_name("left"), target.child_by_field_name("right")
        if right is not None and right.type == "identifier" and left is not None:
            return text(left), text(right)
    return "", ""


def args(call: Node) -> list[Node]:
    """A call's argument nodes (a trailing keyword list is one ``keywords`` node)."""
    for child in call.children:
        if child.type == "arguments":
            return [a for a in child.named_children if a.type != "comment"]
    return []


def do_block(call: Node) -> Node | None:
    """A call's ``do ... end`` block, if any."""
    return next((c for c in call.children if c.type == "do_block"), None)


def statements(block: Node | None) -> list[Node]:
    """The statements of a ``do_block`` or ``body``, comments left out."""
    if block is None:
        return []
    return [c for c in block.named_children if c.type not in {"comment", "do", "end"}]


def pairs(node: Node) -> Iterator[tuple[str, Node, Node]]:
    """``(key, key node, value)`` of a map, struct, keyword list or ``keywords`` node.

    Keys are given without the colon (``name: x`` and ``"name" => x`` both give ``name``).
    """
    for child in node.named_children:
        if child.type in {"map_content", "keywords", "list"}:
            yield from pairs(child)
        elif child.type == "pair":
            key, value = child.child_by_field_name("key"), child.child_by_field_name("value")
            if key is not None and value is not None:
                yield text(key).rstrip().rstrip(":").strip('"'), key, value
        elif child.type == "binary_operator" and _operator(child) == "=>":
            key, value = child.child_by_field_name("left"), child.child_by_field_name("right")
            if key is not None and value is not None:
                yield text(key).strip('"').lstrip(":"), key, value


def _operator(node: Node) -> str:
    op = node.child_by_field_name("operator")
    return text(op) if op is not None else ""


def operator(node: Node) -> str:
    """The operator of a ``binary_operator``/``unary_operator`` node (``|>``, ``=``...)."""
    return _operator(node)


def string_value(node: Node) -> str | None:
    """The text of a string literal without interpolation, else None."""
    if node.type != "string" or any(c.type == "interpolation" for c in node.children):
        return None
    return "".join(text(c) for c in node.children if c.type == "quoted_content")


def is_logging_call(node: Node) -> bool:
    """``Logger.warning(...)``, ``:logger.info(...)``, ``IO.puts(...)``, ``IO.inspect(...)``."""
    if node.type != "call":
        return False
    module, _ = call_parts(node)
    return module in LOG_MODULES


def definitions(root: Node) -> Iterator[tuple[Node, str, int, Node]]:
    """Every ``def``/``defp`` clause: ``(call node, name, arity, body or None)``."""
    for node in walk(root):
        if node.type != "call" or call_parts(node)[0] is not None:
            continue
        if call_parts(node)[1] not in DEFINERS:
            continue
        head = args(node)
        if not head:
            continue
        signature = head[0]
        if signature.type == "binary_operator" and operator(signature) == "when":
            signature = signature.child_by_field_name("left") or signature
        if signature.type == "call":
            name, arity = call_parts(signature)[1], len(args(signature))
        elif signature.type == "identifier":
            name, arity = text(signature), 0
        else:
            continue
        body = do_block(node)
        if body is None:
            body = next((v for k, _, v in _keyword_args(head) if k == "do"), None)
        yield node, name, arity, body


def _keyword_args(head: list[Node]) -> Iterator[tuple[str, Node, Node]]:
    for arg in head[1:]:
        if arg.type == "keywords":
            yield from pairs(arg)


def body_statements(body: Node | None) -> list[Node]:
    """The statements of a function body: a ``do_block``, a ``body`` or one expression."""
    if body is None:
        return []
    if body.type in {"do_block", "body"}:
        return statements(body)
    return [body]


def enclosing(node: Node, kinds: Collection[str]) -> Iterator[Node]:
    """The ancestors of ``node`` whose type is in ``kinds``, innermost first."""
    current = node.parent
    while current is not None:
        if current.type in kinds:
            yield current
        current = current.parent
