"""The last line of defence: a merged blueprint must emit, lint clean, and generate the
same code as the deterministic one, apart from the text inside docstrings and comments.

``CodeBaseline(spec, deterministic)`` checks a merged blueprint against its *text-neutral
twin*: the same blueprint with every free-text field an edit may set (descriptions,
rationales) put back to the deterministic value. Both are emitted; every generated Python
file must parse to the same AST once docstrings are blanked (comments are not in the
AST), and must lint clean with the taxonomy. Supervision numbers may differ from the
deterministic code, since they are in both; text cannot change anything but docstrings and
comments, whatever the validation before missed.
"""

from __future__ import annotations

import ast
from typing import Any

from sagacrew.agents.blueprint import Blueprint
from sagacrew.agents.spec import DomainSpec
from sagacrew.agents.validator import lint_source
from sagacrew.crew.emit import emit_files

_DOCSTRING_OWNERS = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
TEXT_FIELDS: tuple[tuple[str, ...], ...] = (
    ("actors", "actors", "*", "description"),
    ("actors", "supervisors", "*", "rationale"),
    ("sagas", "sagas", "*", "description"),
    ("sagas", "sagas", "*", "steps", "*", "description"),
    ("events", "events", "*", "description"),
)
"""Free-text fields an edit may set (``*``: every list item)."""


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


def _copy_field(target: Any, source: Any, path: tuple[str, ...]) -> None:
    key, rest = path[0], path[1:]
    if key == "*":
        for target_item, source_item in zip(target, source, strict=False):
            _copy_field(target_item, source_item, rest)
    elif not rest:
        target[key] = source[key]
    else:
        _copy_field(target[key], source[key], rest)


def text_neutral(merged: Blueprint, deterministic: Blueprint) -> Blueprint:
    """``merged`` with the ``TEXT_FIELDS`` of ``deterministic``."""
    data = merged.model_dump(mode="json")
    base = deterministic.model_dump(mode="json")
    for path in TEXT_FIELDS:
        _copy_field(data, base, path)
    return Blueprint.model_validate(data)


def _python_files(blueprint: Blueprint) -> dict[str, str]:
    return {p: s for p, s in emit_files(blueprint).items() if p.endswith(".py")}


class CodeBaseline:
    """Checks merged blueprints against the deterministic ``blueprint`` of ``spec``."""

    def __init__(self, spec: DomainSpec, blueprint: Blueprint) -> None:
        self.spec = spec
        self.deterministic = blueprint

    def problem(self, merged: Blueprint) -> str | None:
        """Why ``merged`` may not replace the deterministic blueprint, or ``None``."""
        assert merged.events is not None
        try:
            files = _python_files(merged)
            twin = _python_files(text_neutral(merged, self.deterministic))
        except Exception as exc:  # any emitter failure means: keep the deterministic one
            return f"the merged blueprint does not emit: {' '.join(str(exc).split())[:200]}"
        if set(files) != set(twin):
            return "the merged blueprint generates other Python files than the deterministic one"
        taxonomy = {event.name for event in merged.events.events}
        for path, source in sorted(files.items()):
            try:
                shape = code_shape(source)
            except SyntaxError as exc:
                return f"generated {path} does not parse: {exc.msg}"
            if shape != code_shape(twin[path]):
                return f"generated {path} differs from the deterministic code outside docstrings"
            findings = lint_source(source, path, taxonomy=taxonomy)
            if findings:
                return f"generated {path} does not lint clean: {findings[0]}"
        return None
