"""The import graph: the runtime stands alone, and generated packages need only the runtime.

``sagacrew.runtime`` (and so ``sagacrew serve`` and every generated system) must never
import ``sagacrew.crew`` or ``sagacrew.agents``: not at the top of a module, not inside a
function, not by ``importlib.import_module("...")``.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = ("sagacrew.crew", "sagacrew.agents")


def _is_under(name: str, packages: tuple[str, ...]) -> bool:
    return any(name == package or name.startswith(f"{package}.") for package in packages)


def _module_name(path: Path, root: Path, package: str) -> str:
    """``runtime/api/_serve.py`` → ``sagacrew.runtime.api._serve`` (a package's
    ``__init__.py`` → the package)."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join([package, *parts])


def imported_names(path: Path, module: str) -> list[tuple[int, str]]:
    """Every module ``path`` imports, anywhere in the file, as (line, absolute name).

    Relative imports are resolved against ``module``; ``from X import a`` also yields
    ``X.a`` (``a`` may be a submodule); string arguments of ``import_module`` and
    ``__import__`` calls count as imports.
    """
    tree = ast.parse(path.read_text("utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                drop = node.level - 1 if is_package else node.level
                anchor = anchor[: len(anchor) - drop]
                base = ".".join([*anchor, *([base] if base else [])])
            found.append((node.lineno, base))
            found.extend((node.lineno, f"{base}.{alias.name}") for alias in node.names)
        elif isinstance(node, ast.Call):
            callee = node.func
            name = callee.attr if isinstance(callee, ast.Attribute) else getattr(callee, "id", "")
            if name in {"import_module", "__import__"} and node.args:
                first = node.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    found.append((node.lineno, first.value))
    return found


def _violations(
    folder: Path,
    package: str,
    allowed: tuple[str, ...] | None,
    forbidden: tuple[str, ...] = FORBIDDEN,
) -> list[str]:
    """``file:line: name`` for each import of a ``forbidden`` package under ``folder``
    (with ``allowed``: each ``sagacrew`` import outside ``allowed``)."""
    bad: list[str] = []
    for path in sorted(folder.rglob("*.py")):
        module = _module_name(path, folder, package)
        for line, name in imported_names(path, module):
            if allowed is None:
                wrong = _is_under(name, forbidden)
            else:
                wrong = _is_under(name, ("sagacrew",)) and not _is_under(name, allowed)
            if wrong:
                bad.append(f"{path.relative_to(ROOT)}:{line}: {name}")
    return bad


def test_the_import_scan_sees_imports_inside_functions_and_relative_ones(tmp_path: Path) -> None:
    """The scanner itself: it must not miss what the next test forbids."""
    source = tmp_path / "runtime" / "api" / "_probe.py"
    source.parent.mkdir(parents=True)
    source.write_text(
        "import importlib\n"
        "def late():\n"
        "    from sagacrew.agents.generated import open_generated\n"
        "    from ... import agents\n"
        "    importlib.import_module('sagacrew.agents.validator')\n",
        "utf-8",
    )
    names = [name for _, name in imported_names(source, "sagacrew.runtime.api._probe")]
    assert "sagacrew.agents.generated" in names
    assert "sagacrew.agents" in names
    assert "sagacrew.agents.validator" in names


def test_no_runtime_module_imports_the_crew_or_the_agents() -> None:
    assert _violations(ROOT / "runtime", "sagacrew.runtime", allowed=None) == []


def test_the_agents_import_nothing_of_the_crew() -> None:
    """One direction between the packages: crew → agents → runtime. The spec model and
    the blueprint live in the agents' package, so the agents never reach back."""
    assert _violations(ROOT / "agents", "sagacrew.agents", None, ("sagacrew.crew",)) == []


def test_generated_packages_import_nothing_of_sagacrew_but_the_runtime() -> None:
    packages = [
        folder / json.loads((folder / "blueprint.json").read_text("utf-8"))["system"]
        for folder in sorted((ROOT / "generated").iterdir())
        if (folder / "blueprint.json").is_file()
    ]
    assert packages, "no generated systems to check"
    bad = [
        violation
        for package in packages
        for violation in _violations(package, package.name, allowed=("sagacrew.runtime",))
    ]
    assert bad == []


def test_importing_every_runtime_module_loads_neither_the_crew_nor_the_agents() -> None:
    probe = (
        "import pkgutil, sys\n"
        "import sagacrew.runtime as runtime\n"
        "names = [m.name for m in pkgutil.walk_packages(runtime.__path__, 'sagacrew.runtime.')]\n"
        "for name in names:\n"
        "    __import__(name)\n"
        "print(len(names))\n"
        f"print(sorted(m for m in sys.modules if m.startswith({FORBIDDEN!r})))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert done.returncode == 0, done.stderr
    count, loaded = done.stdout.splitlines()
    assert int(count) > 20  # the walk really found the runtime's modules
    assert loaded == "[]"
