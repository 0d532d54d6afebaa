"""The last line of defence: a merged blueprint must emit, lint clean, and generate the
same code as the deterministic one outside docstrings and comments.

``CodeBaseline`` holds the shape of the deterministic blueprint's generated Python (its
AST with docstrings blanked; comments are not in the AST). A merged blueprint passes when
``emit_files`` succeeds, ``lint_source`` finds nothing (with the taxonomy), and every
generated Python file has exactly that shape, so no accepted text can have left its
docstring or comment, whatever the validation before missed.
"""

from __future__ import annotations

import ast

from sagacrew.agents.validator import lint_source
from sagacrew.crew.blueprint import Blueprint
from sagacrew.crew.emit import emit_files
from sagacrew.crew.spec import DomainSpec

_DOCSTRING_OWNERS = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)


def code_shape(source: str) -> str:
    """``source``'s AST (no positions) with every docstring replaced by ``""``."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, _DOCSTRING_OWNERS) and node.body:
            first = node.body[0]
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
            ):
                first.value.value = ""
    return ast.dump(tree, include_attributes=False)


def _python_files(blueprint: Blueprint, spec: DomainSpec) -> dict[str, str]:
    return {p: s for p, s in emit_files(blueprint, spec).items() if p.endswith(".py")}


class CodeBaseline:
    """The code shape of ``blueprint``'s generated Python files (emitted once here)."""

    def __init__(self, spec: DomainSpec, blueprint: Blueprint) -> None:
        self.spec = spec
        self.shapes = {p: code_shape(s) for p, s in _python_files(blueprint, spec).items()}

    def problem(self, merged: Blueprint) -> str | None:
        """Why ``merged`` may not replace the deterministic blueprint, or ``None``."""
        assert merged.events is not None
        try:
            files = _python_files(merged, self.spec)
        except Exception as exc:  # any emitter failure means: keep the deterministic one
            return f"the merged blueprint does not emit: {' '.join(str(exc).split())[:200]}"
        taxonomy = {event.name for event in merged.events.events}
        for path, source in sorted(files.items()):
            findings = lint_source(source, path, taxonomy=taxonomy)
            if findings:
                return f"generated {path} does not lint clean: {findings[0]}"
            try:
                shape = code_shape(source)
            except SyntaxError as exc:
                return f"generated {path} does not parse: {exc.msg}"
            if shape != self.shapes.get(path):
                return f"generated {path} differs from the deterministic code outside docstrings"
        if set(files) != set(self.shapes):
            return "the merged blueprint generates other Python files than the deterministic one"
        return None
