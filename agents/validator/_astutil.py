"""Shared AST helpers for the lint rules: names of calls, logging calls, constants."""

from __future__ import annotations

import ast
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field

from sagacrew.agents.validator.findings import Finding

LOG_METHODS = frozenset(
    {"debug", "info", "warning", "warn", "error", "exception", "critical", "fatal", "log", "msg"}
)
"""Method names that log when called on a receiver whose name contains ``log``."""

PRINT_FUNCTIONS = frozenset({"print", "pprint"})


@dataclass
class LintContext:
    """One source file being linted: its path, tree, comments by line, and taxonomy."""

    path: str
    tree: ast.Module
    comments: dict[int, str] = field(default_factory=dict)
    """Comment text (with the ``#``) by 1-based line number."""
    taxonomy: Collection[str] | None = None

    def finding(self, node: ast.AST, rule: str, message: str, fix: str) -> Finding:
        """A finding at ``node``'s position (1-based line and column)."""
        line = getattr(node, "lineno", 1)
        column = getattr(node, "col_offset", 0) + 1
        return Finding(self.path, line, column, rule, message, fix)


def terminal_name(expr: ast.expr) -> str | None:
    """The last identifier of a name or attribute chain (``a.b.c`` -> ``c``), else None."""
    if isinstance(expr, ast.Name):
        return expr.id
    if isinstance(expr, ast.Attribute):
        return expr.attr
    return None


def chain_names(expr: ast.expr) -> list[str]:
    """Every identifier of a receiver chain, outermost first (``self.ctx.x()`` -> self, ctx).

    Calls and subscripts in the chain are walked through (``get_logger().info`` yields
    ``get_logger``).
    """
    names: list[str] = []
    node: ast.expr | None = expr
    while node is not None:
        if isinstance(node, ast.Name):
            names.append(node.id)
            node = None
        elif isinstance(node, ast.Attribute):
            names.append(node.attr)
            node = node.value
        elif isinstance(node, ast.Call):
            node = node.func
        elif isinstance(node, ast.Subscript):
            node = node.value
        else:
            node = None
    names.reverse()
    return names


def call_name(call: ast.Call) -> str | None:
    """The called function's or method's own name (``bus.publish(...)`` -> ``publish``)."""
    return terminal_name(call.func)


def receiver(call: ast.Call) -> ast.expr | None:
    """The object a method is called on (``bus.publish(...)`` -> ``bus``), else None."""
    if isinstance(call.func, ast.Attribute):
        return call.func.value
    return None


def is_logging_call(expr: ast.expr) -> bool:
    """True for ``print(...)``, ``warnings.warn(...)`` and ``<something log>.<level>(...)``.

    An awaited logging call (``await log.ainfo(...)``) counts too.
    """
    if isinstance(expr, ast.Await):
        expr = expr.value
    if not isinstance(expr, ast.Call):
        return False
    func = expr.func
    if isinstance(func, ast.Name):
        return func.id in PRINT_FUNCTIONS
    if not isinstance(func, ast.Attribute):
        return False
    method = func.attr.lower()
    owners = [name.lower() for name in chain_names(func.value)]
    if method == "warn" and owners[-1:] == ["warnings"]:
        return True
    # structlog's async methods are the level names prefixed with "a" (ainfo, awarning).
    is_async_level = method.startswith("a") and method[1:] in LOG_METHODS
    if method not in LOG_METHODS and not is_async_level:
        return False
    return any("log" in name or name == "console" for name in owners)


def is_constant_expr(expr: ast.expr | None) -> bool:
    """True when ``expr`` is a literal (or missing): ``None``, ``True``, ``{"ok": True}``...

    Containers count when every element is itself constant; ``dict(ok=True)`` counts too.
    """
    if expr is None or isinstance(expr, ast.Constant):
        return True
    if isinstance(expr, ast.Dict):
        return all(k is not None and is_constant_expr(k) for k in expr.keys) and all(
            is_constant_expr(v) for v in expr.values
        )
    if isinstance(expr, ast.Tuple | ast.List | ast.Set):
        return all(is_constant_expr(e) for e in expr.elts)
    if isinstance(expr, ast.UnaryOp):
        return is_constant_expr(expr.operand)
    if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name):
        return (
            expr.func.id in {"dict", "tuple", "list"}
            and all(is_constant_expr(a) for a in expr.args)
            and all(is_constant_expr(k.value) for k in expr.keywords)
        )
    return False


def is_passthrough_expr(expr: ast.expr | None) -> bool:
    """True for constants and for names, attributes and subscripts of names (no work done)."""
    if is_constant_expr(expr):
        return True
    if isinstance(expr, ast.Name):
        return True
    if isinstance(expr, ast.Attribute | ast.Subscript):
        return is_passthrough_expr(expr.value)
    if isinstance(expr, ast.Dict):
        return all(k is None or is_passthrough_expr(k) for k in expr.keys) and all(
            is_passthrough_expr(v) for v in expr.values
        )
    if isinstance(expr, ast.Tuple | ast.List | ast.Set):
        return all(is_passthrough_expr(e) for e in expr.elts)
    return False


def walk_no_nested_scopes(node: ast.AST) -> Iterator[ast.AST]:
    """Like ``ast.walk`` over ``node``'s children, not entering nested functions/classes."""
    stack = list(ast.iter_child_nodes(node))
    while stack:
        child = stack.pop()
        yield child
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda):
            continue
        stack.extend(ast.iter_child_nodes(child))
