"""SAGA-L001: compensations and handlers that are stubs.

A function is a *compensation* when its name contains ``compensate``, ``undo``,
``rollback``, ``release`` or ``cancel``, when a decorator's name contains ``compensat``,
or when it is passed or assigned as one (``compensation=fn`` keyword, ``x.compensation =
fn``, ``{"compensation": fn}``). It is a *handler* when its name starts with ``handle_``
or ``on_`` (leading underscores ignored). Either is a stub when its body, docstring
aside, only logs or prints, passes, and/or returns a constant (``None``, ``{"ok": True}``,
``{"status": "compensated"}``...). When the function holds a to-do marker
comment, returning a variable unchanged also counts as doing nothing.

Abstract methods (``@abstractmethod``), ``@overload`` signatures and methods of a
``Protocol`` class are interfaces, not stubs, and are never reported.
"""

from __future__ import annotations

import ast
import re

from sagacrew.agents.validator._astutil import (
    LintContext,
    chain_names,
    is_constant_expr,
    is_logging_call,
    is_passthrough_expr,
    terminal_name,
)
from sagacrew.agents.validator.findings import STUB_COMPENSATION, Finding, stub_description

COMPENSATION_WORDS = ("compensat", "undo", "rollback", "release", "cancel")
HANDLER_PREFIXES = ("handle_", "on_")
# The markers are spelled with a character class so this file does not itself match them.
_TODO = re.compile(r"\b(T[O]DO|F[I]XME|X[X]X)\b")
_INTERFACE_DECORATORS = frozenset({"abstractmethod", "overload"})

FIX_COMPENSATION = "perform the undo (e.g. call the delete/release/cancel command) or raise"
FIX_HANDLER = "handle the message (change the state, emit the event, reply) or raise"

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef


def check(ctx: LintContext) -> list[Finding]:
    """Every stub compensation or handler of the module."""
    referenced, lambdas = _compensation_references(ctx.tree)
    findings: list[Finding] = []
    for lam in lambdas:
        if _lambda_is_stub(lam):
            findings.append(
                ctx.finding(
                    lam,
                    STUB_COMPENSATION,
                    "compensation lambda is a stub: it only logs or returns a constant",
                    FIX_COMPENSATION,
                )
            )
    for func, in_protocol in _functions(ctx.tree):
        if in_protocol or _is_interface(func):
            continue
        role = _role(func, referenced)
        if role is None:
            continue
        has_todo = any(
            _TODO.search(text)
            for line, text in ctx.comments.items()
            if func.lineno <= line <= (func.end_lineno or func.lineno)
        )
        what = _stub_behaviour(func.body, has_todo=has_todo)
        if what is None:
            continue
        suffix = " (left with a to-do marker)" if has_todo else ""
        findings.append(
            ctx.finding(
                func,
                STUB_COMPENSATION,
                f"{role} {func.name}() is a stub: it {what}{suffix}",
                FIX_COMPENSATION if role == "compensation" else FIX_HANDLER,
            )
        )
    return findings


def _functions(tree: ast.Module) -> list[tuple[FunctionNode, bool]]:
    """Every function of the module, with whether it is a method of a ``Protocol`` class."""
    found: list[tuple[FunctionNode, bool]] = []

    def visit(node: ast.AST, in_protocol: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                protocol = any(
                    "Protocol" in chain_names(base)
                    for base in child.bases
                    if isinstance(base, ast.Name | ast.Attribute | ast.Subscript)
                )
                visit(child, protocol)
            elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                found.append((child, in_protocol))
                visit(child, False)
            else:
                visit(child, in_protocol)

    visit(tree, False)
    return found


def _is_interface(func: FunctionNode) -> bool:
    return any(
        terminal_name(dec.func if isinstance(dec, ast.Call) else dec) in _INTERFACE_DECORATORS
        for dec in func.decorator_list
    )


def _is_compensation_slot(name: str | None) -> bool:
    return name is not None and ("compensat" in name.lower() or name in {"undo", "rollback"})


def _compensation_references(tree: ast.Module) -> tuple[set[str], list[ast.Lambda]]:
    """Names of functions used as compensations, and lambdas used as compensations."""
    names: set[str] = set()
    lambdas: list[ast.Lambda] = []

    def take(value: ast.expr) -> None:
        if isinstance(value, ast.Lambda):
            lambdas.append(value)
        else:
            ident = terminal_name(value)
            if ident is not None:
                names.add(ident)

    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            for kw in node.keywords:
                if _is_compensation_slot(kw.arg):
                    take(kw.value)
        elif isinstance(node, ast.Assign):
            if any(_is_compensation_slot(terminal_name(t)) for t in node.targets):
                take(node.value)
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            if _is_compensation_slot(terminal_name(node.target)):
                take(node.value)
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if (
                    isinstance(key, ast.Constant)
                    and isinstance(key.value, str)
                    and _is_compensation_slot(key.value)
                ):
                    take(value)
    return names, lambdas


def _role(func: FunctionNode, referenced: set[str]) -> str | None:
    """``"compensation"``, ``"handler"`` or None (neither: not checked)."""
    name = func.name.lower().lstrip("_")
    decorated = any(
        any("compensat" in part.lower() for part in chain_names(dec)) for dec in func.decorator_list
    )
    if decorated or func.name in referenced or any(w in name for w in COMPENSATION_WORDS):
        return "compensation"
    if name.startswith(HANDLER_PREFIXES):
        return "handler"
    return None


def _stub_behaviour(body: list[ast.stmt], *, has_todo: bool) -> str | None:
    """What a stub body does (for the message), or None when the body does real work."""
    statements = body
    first = statements[0] if statements else None
    if (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    ):
        statements = statements[1:]
    logs = False
    returns: str | None = None
    for stmt in statements:
        if isinstance(stmt, ast.Pass) or (
            isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)
        ):
            continue
        if isinstance(stmt, ast.Expr) and is_logging_call(stmt.value):
            logs = True
        elif isinstance(stmt, ast.Return) and is_constant_expr(stmt.value):
            if stmt.value is not None:
                returns = returns or "returns a fixed result"
        elif isinstance(stmt, ast.Return) and has_todo and is_passthrough_expr(stmt.value):
            returns = "returns its input unchanged"
        else:
            return None
    return stub_description(logs, returns)


def _lambda_is_stub(lam: ast.Lambda) -> bool:
    return is_constant_expr(lam.body) or is_logging_call(lam.body)
