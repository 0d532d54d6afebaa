"""The spec's small expression language, compiled to Python source.

Invariants (``check``) and refusals (``rejects_when``) are written as small expressions
over an aggregate's fields and a command's parameters, e.g. ``available >= 0``,
``status in ['pending', 'approved']`` or ``total_cents > 50000 and not verified``.

Allowed: names, ``int``/``float``/``str``/``bool`` literals (``True``/``False`` or
``true``/``false``), comparisons (``== != < <= > >= in``, ``not in``, chains),
``and``/``or``/``not``, ``+ - * /`` (and unary ``-``/``+``), parentheses, list and tuple
literals. A bare name ``x`` compiles to ``params["x"]`` when ``x`` is a parameter, else to
``state["x"]`` when it is a state field; anything else (calls, attributes, subscripts,
lambdas, unknown names, ...) raises :class:`ExpressionError` with a fix.

The output is deterministic: same input, same text, with double-quoted strings and only
the parentheses precedence needs.
"""

from __future__ import annotations

import ast
import io
import json
import keyword
import tokenize
import unicodedata
from collections.abc import Collection, Mapping

from sagacrew.agents.spec.errors import ExpressionError
from sagacrew.agents.spec.naming import did_you_mean

__all__ = ["MAX_EXPRESSION_LENGTH", "compile_expression"]

MAX_EXPRESSION_LENGTH = 2000
"""Longer expressions are refused (the spec's own fields allow 500 characters)."""

_EXAMPLE = "write a comparison such as `available >= 0` or `status in ['open', 'closed']`"

_BOOL_NAMES = {"true": True, "false": False}

# Precedence, loosest first, as in Python's grammar.
_OR, _AND, _NOT, _CMP, _ADD, _MUL, _UNARY, _ATOM = range(1, 9)

_CMP_OPS: dict[type[ast.cmpop], str] = {
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.In: "in",
    ast.NotIn: "not in",
}
_BIN_OPS: dict[type[ast.operator], tuple[str, int]] = {
    ast.Add: ("+", _ADD),
    ast.Sub: ("-", _ADD),
    ast.Mult: ("*", _MUL),
    ast.Div: ("/", _MUL),
}
_REFUSED_BIN_OPS: dict[type[ast.operator], str] = {
    ast.BitAnd: "use `and` instead of `&`",
    ast.BitOr: "use `or` instead of `|`",
    ast.BitXor: "`^` is not supported; compare with `!=` instead",
    ast.Pow: "`**` is not supported; multiply with `*` instead",
    ast.FloorDiv: "`//` is not supported; use `/`",
    ast.Mod: "`%` is not supported; use `+ - * /` and comparisons",
    ast.LShift: "shifts are not supported; use `* 2` instead",
    ast.RShift: "shifts are not supported; use `/ 2` instead",
    ast.MatMult: "`@` is not supported; use `*`",
}
_REFUSED_NODES: dict[type[ast.AST], str] = {
    ast.Call: "function calls are not allowed; compare fields and literals instead",
    ast.Attribute: "attribute access is not allowed; name the field directly, e.g. `total_cents`",
    ast.Subscript: "indexing is not allowed; name the field directly, e.g. `total_cents`",
    ast.Lambda: "lambdas are not allowed; write a plain comparison",
    ast.IfExp: "`x if c else y` is not allowed; combine conditions with `and`/`or`",
    ast.Dict: "dict literals are not allowed; use a list literal, e.g. `['a', 'b']`",
    ast.Set: "set literals are not allowed; use a list literal, e.g. `['a', 'b']`",
    ast.ListComp: "comprehensions are not allowed; use a list literal, e.g. `['a', 'b']`",
    ast.SetComp: "comprehensions are not allowed; use a list literal, e.g. `['a', 'b']`",
    ast.DictComp: "comprehensions are not allowed; use a list literal, e.g. `['a', 'b']`",
    ast.GeneratorExp: "comprehensions are not allowed; use a list literal, e.g. `['a', 'b']`",
    ast.JoinedStr: "f-strings are not allowed; use a plain string literal",
    ast.NamedExpr: "`:=` is not allowed; write a plain comparison",
    ast.Await: "`await` is not allowed; write a plain comparison",
    ast.Yield: "`yield` is not allowed; write a plain comparison",
    ast.YieldFrom: "`yield` is not allowed; write a plain comparison",
    ast.Starred: "`*` unpacking is not allowed; list the values",
    ast.Slice: "slices are not allowed; name the field directly",
}


def compile_expression(
    expr: str, *, state_fields: Collection[str], params: Collection[str] = ()
) -> str:
    """Compile a spec expression to Python source over ``state`` and ``params`` mappings.

    A name resolves to ``params["x"]`` if ``x`` is in ``params``, else to ``state["x"]``
    if it is in ``state_fields``; ``true``/``false`` (when not a field) are booleans.
    Examples: ``total_cents > 0`` → ``state["total_cents"] > 0``;
    ``total_cents > 50000`` with ``params=["total_cents"]`` → ``params["total_cents"] > 50000``.

    Raises :class:`ExpressionError` (with the offset of the problem and a fix) for syntax
    errors, unknown names and any construct outside the language.
    """
    text = expr.strip()
    lead = len(expr) - len(expr.lstrip())
    if not text:
        raise ExpressionError(expr, 0, "the expression is empty", _EXAMPLE)
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise ExpressionError(
            expr,
            0,
            f"the expression is {len(text)} characters long (at most {MAX_EXPRESSION_LENGTH})",
            "split it into several invariants",
        )
    if "\n" in text or "\r" in text:
        raise ExpressionError(
            expr, text.find("\n") + lead, "the expression spans several lines", _EXAMPLE
        )
    tree = _parse(expr, text, lead, state_fields, params)
    compiler = _Compiler(expr, lead, state_fields, params)
    try:
        source, _ = compiler.emit(tree.body)
    except RecursionError:
        raise ExpressionError(
            expr, 0, "the expression is nested too deeply", "split it into simpler parts"
        ) from None
    return source


def _parse(
    expr: str, text: str, lead: int, state_fields: Collection[str], params: Collection[str]
) -> ast.Expression:
    try:
        return ast.parse(text, mode="eval")
    except (SyntaxError, ValueError, MemoryError, RecursionError) as error:
        offset = 0
        detail = str(error)
        if isinstance(error, SyntaxError):
            offset = error.offset - 1 if error.offset else len(text)
            detail = error.msg
            if offset >= len(text):
                detail = "the expression ends too early"
        reserved = _reserved_names(text, set(state_fields) | set(params))
        if reserved:
            return _raise_reserved(expr, text, lead, reserved)
        raise ExpressionError(
            expr, lead + min(offset, len(text)), f"invalid expression: {detail}", _EXAMPLE
        ) from None


def _reserved_names(text: str, names: set[str]) -> list[str]:
    """Python keywords used in ``text`` that are also field or parameter names."""
    found: list[str] = []
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError):
        return found
    for token in tokens:
        if (
            token.type == tokenize.NAME
            and keyword.iskeyword(token.string)
            and token.string in names
        ):
            found.append(token.string)
    return found


def _raise_reserved(expr: str, text: str, lead: int, reserved: list[str]) -> ast.Expression:
    name = reserved[0]
    raise ExpressionError(
        expr,
        lead + max(text.find(name), 0),
        f"'{name}' is a reserved word and cannot be used as a name in expressions",
        f"rename the field or parameter '{name}', e.g. to '{name}_value'",
    )


class _Compiler:
    """Walks the Python AST of an expression and emits checked Python source."""

    def __init__(
        self, expr: str, lead: int, state_fields: Collection[str], params: Collection[str]
    ) -> None:
        self._expr = expr
        self._lead = lead
        self._state = _by_normal_form(state_fields)
        self._params = _by_normal_form(params)

    def fail(self, node: ast.AST, message: str, fix: str) -> ExpressionError:
        offset = self._lead + int(getattr(node, "col_offset", 0))
        return ExpressionError(self._expr, offset, message, fix)

    def emit(self, node: ast.expr) -> tuple[str, int]:
        """Return ``(source, precedence)`` for ``node``."""
        if isinstance(node, ast.Constant):
            return self._constant(node), _ATOM
        if isinstance(node, ast.Name):
            return self._name(node), _ATOM
        if isinstance(node, ast.List | ast.Tuple):
            return self._sequence(node), _ATOM
        if isinstance(node, ast.BoolOp):
            return self._bool_op(node)
        if isinstance(node, ast.UnaryOp):
            return self._unary(node)
        if isinstance(node, ast.BinOp):
            return self._bin_op(node)
        if isinstance(node, ast.Compare):
            return self._compare(node)
        fix = _REFUSED_NODES.get(type(node), _EXAMPLE)
        shown = ast.get_source_segment(self._expr.strip(), node) or type(node).__name__
        raise self.fail(node, f"'{shown}' is not allowed in expressions", fix)

    def _constant(self, node: ast.Constant) -> str:
        value = node.value
        if isinstance(value, bool):
            return "True" if value else "False"
        if isinstance(value, int):
            return str(value)
        if isinstance(value, float):
            return repr(value)
        if isinstance(value, str):
            return json.dumps(value, ensure_ascii=False)
        shown = "None" if value is None else repr(value)
        raise self.fail(
            node,
            f"the literal {shown} is not allowed",
            "use an int, float, string or boolean literal",
        )

    def _name(self, node: ast.Name) -> str:
        name = node.id
        if name in self._params:
            return f"params[{json.dumps(self._params[name], ensure_ascii=False)}]"
        if name in self._state:
            return f"state[{json.dumps(self._state[name], ensure_ascii=False)}]"
        if name in _BOOL_NAMES:
            return "True" if _BOOL_NAMES[name] else "False"
        known = sorted(set(self._params.values()) | set(self._state.values()))
        best = did_you_mean(name, known)
        if best is not None:
            fix = f"did you mean '{best}'?"
        elif known:
            fix = "use one of: " + ", ".join(known)
        else:
            fix = "there are no fields or parameters here; compare literals only"
        if name in {"None", "null"}:
            fix = "`None` is not a value here; compare with a literal, e.g. `status != ''`"
        raise self.fail(node, f"unknown name '{name}'", fix)

    def _sequence(self, node: ast.List | ast.Tuple) -> str:
        items = [self.emit(item)[0] for item in node.elts]
        if isinstance(node, ast.List):
            return "[" + ", ".join(items) + "]"
        if len(items) == 1:
            return f"({items[0]},)"
        return "(" + ", ".join(items) + ")"

    def _bool_op(self, node: ast.BoolOp) -> tuple[str, int]:
        word, prec = ("and", _AND) if isinstance(node.op, ast.And) else ("or", _OR)
        parts = [self._wrapped(value, prec + 1) for value in node.values]
        return f" {word} ".join(parts), prec

    def _unary(self, node: ast.UnaryOp) -> tuple[str, int]:
        if isinstance(node.op, ast.Not):
            return f"not {self._wrapped(node.operand, _NOT)}", _NOT
        if isinstance(node.op, ast.USub | ast.UAdd):
            sign = "-" if isinstance(node.op, ast.USub) else "+"
            return f"{sign}{self._wrapped(node.operand, _UNARY)}", _UNARY
        raise self.fail(node, "`~` is not allowed", "use `not` for a negation")

    def _bin_op(self, node: ast.BinOp) -> tuple[str, int]:
        op_type = type(node.op)
        if op_type not in _BIN_OPS:
            raise self.fail(
                node, "this operator is not allowed", _REFUSED_BIN_OPS.get(op_type, _EXAMPLE)
            )
        symbol, prec = _BIN_OPS[op_type]
        left = self._wrapped(node.left, prec)
        right = self._wrapped(node.right, prec + 1)
        return f"{left} {symbol} {right}", prec

    def _compare(self, node: ast.Compare) -> tuple[str, int]:
        parts = [self._wrapped(node.left, _CMP + 1)]
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            symbol = _CMP_OPS.get(type(op))
            if symbol is None:
                raise self.fail(
                    node, "`is` / `is not` are not allowed", "compare with `==` or `!=`"
                )
            parts.append(symbol)
            parts.append(self._wrapped(comparator, _CMP + 1))
        return " ".join(parts), _CMP

    def _wrapped(self, node: ast.expr, minimum: int) -> str:
        source, prec = self.emit(node)
        return f"({source})" if prec < minimum else source


def _by_normal_form(names: Collection[str]) -> Mapping[str, str]:
    """Map each name and its NFKC form (what Python's parser sees) to the name as given."""
    table: dict[str, str] = {}
    for name in sorted(names):
        table.setdefault(unicodedata.normalize("NFKC", name), name)
        table[name] = name
    return table
