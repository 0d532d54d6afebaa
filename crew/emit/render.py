"""Template rendering and formatting: jinja2 in, ruff-formatted text out."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemBytecodeCache, PackageLoader, StrictUndefined
from jinja2.bccache import Bucket


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


class _TemplateCache(FileSystemBytecodeCache):
    """jinja2's per-user cache of compiled templates (a private folder under the temporary
    one): compiling them is most of a small system's render time. A cache that cannot be
    written is no cache, never an error; a changed template is compiled again."""

    def dump_bytecode(self, bucket: Bucket) -> None:
        with contextlib.suppress(OSError):
            super().dump_bytecode(bucket)


def _template_cache() -> FileSystemBytecodeCache | None:
    try:
        return _TemplateCache()
    except (OSError, RuntimeError):  # no private temporary folder to be had
        return None


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("sagacrew.crew.emit", "templates"),
        bytecode_cache=_template_cache(),
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


_RUFF_STEPS = (
    ("check", "--fix", "--quiet", "--select", "I,F401"),
    ("format", "--quiet"),
)
"""Sort imports (and drop unused ones), then format: as a person would before committing."""
_RUFF_OPTIONS = ("--isolated", "--no-cache", "--line-length", "100")


def format_python(source: str, filename: str) -> str:
    """Sort imports and format ``source`` with ruff, as a person would before committing.

    Runs where no folder can be taken for a first-party package (an empty folder), so the
    import order does not depend on the folder ``generate`` runs in."""
    with tempfile.TemporaryDirectory(prefix="sagacrew-ruff-") as folder:
        for step in _RUFF_STEPS:
            done = subprocess.run(
                [*_ruff(), *step, *_RUFF_OPTIONS, "--stdin-filename", filename, "-"],
                input=source,
                capture_output=True,
                text=True,
                check=False,
                cwd=folder,
            )
            if done.returncode not in (0, 1) or not done.stdout:
                raise EmitError(f"{filename}: ruff {step[0]} failed: {done.stderr.strip()[:300]}")
            source = done.stdout
    return source


def format_python_files(sources: Mapping[str, str]) -> dict[str, str]:
    """:func:`format_python` of each of ``sources`` (``{relative path: text}``), with one
    ruff run per step for them all: the same text, file for file, in a fraction of the time
    (each file keeps its name, which ruff's rules read, in a folder of its own)."""
    with tempfile.TemporaryDirectory(prefix="sagacrew-ruff-") as folder:
        root = Path(folder)
        paths = {path: root / str(n) / Path(path).name for n, path in enumerate(sources)}
        for path, target in paths.items():
            target.parent.mkdir()
            target.write_text(sources[path], "utf-8")
        for step in _RUFF_STEPS:
            done = subprocess.run(
                [*_ruff(), *step, *_RUFF_OPTIONS, "."],
                capture_output=True,
                text=True,
                check=False,
                cwd=folder,
            )
            if done.returncode not in (0, 1):
                # One file failed: format them one by one, to say which and why.
                return {
                    path: format_python(text, Path(path).name) for path, text in sources.items()
                }
        return {path: target.read_text("utf-8") for path, target in paths.items()}
