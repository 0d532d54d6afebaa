"""Template rendering and formatting: jinja2 in, ruff-formatted text out."""

from __future__ import annotations

import shutil
import subprocess
import sys
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined


class EmitError(Exception):
    """A generated file could not be produced (a template or formatter failed)."""


def py(value: Any) -> str:
    """A Python literal for ``value`` (dicts keep their order; ruff picks the quotes)."""
    if hasattr(value, "value") and type(value).__module__ != "builtins":
        value = value.value
    if isinstance(value, dict):
        return "{" + ", ".join(f"{py(k)}: {py(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(py(v) for v in value) + "]"
    if isinstance(value, tuple):
        return pytuple(value)
    return repr(value)


def pytuple(values: Any) -> str:
    """A Python tuple literal, ``()``, ``("a",)`` or ``("a", "b")``."""
    items = [py(v) for v in values]
    if len(items) == 1:
        return f"({items[0]},)"
    return "(" + ", ".join(items) + ")"


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("sagacrew.crew.emit", "templates"),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters["py"] = py
    env.filters["pytuple"] = pytuple
    return env


def render(template: str, **context: Any) -> str:
    """Render one template of ``crew/emit/templates``."""
    return environment().get_template(template).render(**context)


def _ruff() -> list[str]:
    exe = shutil.which("ruff")
    return [exe] if exe else [sys.executable, "-m", "ruff"]


def format_python(source: str, filename: str) -> str:
    """Sort imports and format ``source`` with ruff, as a person would before committing."""
    steps = [
        ["check", "--fix", "--quiet", "--select", "I,F401", "--stdin-filename", filename, "-"],
        ["format", "--quiet", "--stdin-filename", filename, "-"],
    ]
    for args in steps:
        done = subprocess.run(
            [*_ruff(), *args, "--isolated", "--line-length", "100"],
            input=source,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode not in (0, 1) or not done.stdout:
            raise EmitError(f"{filename}: ruff {args[0]} failed: {done.stderr.strip()[:300]}")
        source = done.stdout
    return source
