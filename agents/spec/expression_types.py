"""Types in the spec's expressions: a comparison or sum over mismatched types is an error.

``rejects_when: drift_score > max_drift`` with ``drift_score: int`` and an untyped
``max_drift`` generated fine and crashed every saga at run time (``TypeError: '>' not
supported between int and str``). :func:`check_types` finds that at generate time, from
the types of the names (state fields, typed parameters) and of the literals:

- ``< <= > >=`` compare two numbers or two strings; ``+ - * /`` take numbers (``+`` also
  two strings);
- ``==``/``!=`` between a number and a string (never equal) is refused too;
- ``x in [...]`` wants list items of ``x``'s type;
- a name whose type is unknown (a parameter nobody typed) in one of those is refused
  with the fix: declare its type.

It runs on expressions :func:`~sagacrew.agents.spec.expressions.compile_expression`
accepted, so every name is known and the language is the small one it allows.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping

from sagacrew.agents.spec.errors import ExpressionError

__all__ = ["check_types"]

_NUMBER, _STR, _BOOL = "number", "str", "bool"
_KIND = {
    "int": _NUMBER,
    "float": _NUMBER,
    "str": _STR,
    "bool": _BOOL,
    "list": "list",
    "dict": "dict",
}
_ORDERING = (ast.Lt, ast.LtE, ast.Gt, ast.GtE)
_UNTYPED = "untyped"


def check_types(expr: str, types: Mapping[str, str | None]) -> None:
    """Raise :class:`ExpressionError` (offset, message, fix) at the first operation over
    mismatched types in ``expr``; ``types`` gives each name's spec type (``int``,
    ``str``...), ``None`` for a parameter whose type nobody declared."""
    text = expr.strip()
    lead = len(expr) - len(expr.lstrip())
    _Checker(expr, text, lead, types).kind(ast.parse(text, mode="eval").body)


class _Checker:
    def __init__(self, expr: str, text: str, lead: int, types: Mapping[str, str | None]) -> None:
        self._expr, self._text, self._lead, self._types = expr, text, lead, types

    def _shown(self, node: ast.expr) -> str:
        return ast.get_source_segment(self._text, node) or "?"

    def _fail(self, node: ast.expr, message: str, fix: str) -> ExpressionError:
        return ExpressionError(self._expr, self._lead + node.col_offset, message, fix)

    def kind(self, node: ast.expr) -> str | None:
        """The kind of ``node``'s value (``number``, ``str``, ``bool``, ``list``...),
        ``untyped`` for an untyped parameter, ``None`` when it cannot be told."""
        if isinstance(node, ast.Constant):
            value = node.value
            if isinstance(value, bool):
                return _BOOL
            return _NUMBER if isinstance(value, int | float) else _STR
        if isinstance(node, ast.Name):
            if node.id in ("true", "false", "True", "False") and node.id not in self._types:
                return _BOOL
            declared = self._types.get(node.id, "")
            return _UNTYPED if declared is None else _KIND.get(declared)
        if isinstance(node, ast.List | ast.Tuple):
            for item in node.elts:
                self.kind(item)
            return "list"
        if isinstance(node, ast.BoolOp):
            for part in node.values:
                self.kind(part)
            return _BOOL
        if isinstance(node, ast.UnaryOp):
            operand = self.kind(node.operand)
            if isinstance(node.op, ast.Not):
                return _BOOL
            self._need_number(node.operand, operand, "a sign")
            return _NUMBER
        if isinstance(node, ast.BinOp):
            return self._bin_op(node)
        if isinstance(node, ast.Compare):
            self._compare(node)
            return _BOOL
        return None

    def _need_number(self, node: ast.expr, kind: str | None, what: str) -> None:
        if kind == _UNTYPED:
            raise self._untyped(node)
        if kind not in (None, _NUMBER):
            raise self._fail(
                node,
                f"{what} needs a number, but '{self._shown(node)}' is {_article(kind)}",
                "use a numeric field or parameter here",
            )

    def _bin_op(self, node: ast.BinOp) -> str | None:
        left, right = self.kind(node.left), self.kind(node.right)
        for side, kind in ((node.left, left), (node.right, right)):
            if kind == _UNTYPED:
                raise self._untyped(side)
        if isinstance(node.op, ast.Add) and left == right == _STR:
            return _STR
        symbol = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}.get(type(node.op), "?")
        self._need_number(node.left, left, f"`{symbol}`")
        self._need_number(node.right, right, f"`{symbol}`")
        return _NUMBER

    def _compare(self, node: ast.Compare) -> None:
        left_node, left = node.left, self.kind(node.left)
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            right = self.kind(right_node)
            if isinstance(op, ast.In | ast.NotIn):
                self._membership(left_node, left, right_node)
            elif isinstance(op, (*_ORDERING, ast.Eq, ast.NotEq)):
                self._pair(left_node, left, right_node, right, ordering=isinstance(op, _ORDERING))
            left_node, left = right_node, right

    def _pair(
        self, left_node: ast.expr, left: str | None, right_node: ast.expr, right: str | None,
        *, ordering: bool,
    ) -> None:  # fmt: skip
        for side, kind in ((left_node, left), (right_node, right)):
            if kind == _UNTYPED and (ordering or {left, right} & {_NUMBER, _STR}):
                raise self._untyped(side)
        if None in (left, right) or _UNTYPED in (left, right):
            return
        if ordering and (left != right or left not in (_NUMBER, _STR)):
            raise self._mismatch(left_node, left, right_node, right, "do not compare")
        if not ordering and {left, right} == {_NUMBER, _STR}:
            raise self._mismatch(left_node, left, right_node, right, "are never equal")

    def _membership(self, left_node: ast.expr, left: str | None, right_node: ast.expr) -> None:
        if not isinstance(right_node, ast.List | ast.Tuple):
            return
        for item in right_node.elts:
            item_kind = self.kind(item)
            if left == _UNTYPED:
                raise self._untyped(left_node)
            if None not in (left, item_kind) and left != item_kind:
                raise self._mismatch(left_node, left, item, item_kind, "never match")

    def _mismatch(
        self, left_node: ast.expr, left: str | None, right_node: ast.expr, right: str | None,
        verb: str,
    ) -> ExpressionError:  # fmt: skip
        return self._fail(
            right_node,
            f"'{self._shown(left_node)}' is {_article(left)} and '{self._shown(right_node)}' "
            f"is {_article(right)}: they {verb}",
            "compare values of one type (a parameter's type is declared with "
            "`params: {name: type}`)",
        )

    def _untyped(self, node: ast.expr) -> ExpressionError:
        name = self._shown(node)
        return self._fail(
            node,
            f"parameter '{name}' has no type (it is no field of any aggregate)",
            f"declare it with its type, e.g. `params: {{{name}: int}}`",
        )


def _article(kind: str | None) -> str:
    return {_NUMBER: "a number", _STR: "a string", _BOOL: "a boolean"}.get(kind or "", "a list")
