"""Open a generated-system folder with the runtime alone: its blueprint and its package.

A folder written by ``sagacrew generate SPEC -o DIR`` holds ``blueprint.json`` (whose
``system`` names the package) and the package itself, ``DIR/<system>/``, which imports
:mod:`sagacrew.runtime` only. :func:`load_system` reads the blueprint as plain JSON (no
crew model), puts ``DIR`` on ``sys.path`` and imports the package, so a generated system
can be served or run without the crew or the agents installed.

Every problem is one :class:`GeneratedSystemError` line naming the file and the fix.
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sagacrew.runtime.metrics import RuntimeMetrics
    from sagacrew.runtime.system import SagaSystem

__all__ = [
    "BLUEPRINT_FILE",
    "STATE_DIR",
    "GeneratedSystemError",
    "LoadedSystem",
    "import_package",
    "load_system",
    "read_blueprint",
]

BLUEPRINT_FILE = "blueprint.json"
"""The blueprint's file name inside a generated-system folder."""

STATE_DIR = ".sagacrew"
"""Where runs keep their databases and reports inside a generated-system folder."""


class GeneratedSystemError(Exception):
    """The folder is not a generated system (one line: what is wrong; the fix)."""


@dataclass(frozen=True)
class LoadedSystem:
    """A generated system opened by :func:`load_system`.

    ``root`` is the folder, ``blueprint`` its ``blueprint.json`` as a plain mapping,
    ``package`` the imported generated package.
    """

    root: Path
    blueprint: Mapping[str, Any]
    package: ModuleType

    @property
    def name(self) -> str:
        """The system's name: the blueprint's ``system``, also the package's name."""
        return str(self.blueprint["system"])

    @property
    def state_dir(self) -> Path:
        """Where runs keep their databases and reports (not committed)."""
        return self.root / STATE_DIR

    def build_system(self, store_url: str, *, metrics: RuntimeMetrics | None = None) -> SagaSystem:
        """The package's ``build_system(store_url, metrics=...)``: the system, not started."""
        build = getattr(self.package, "build_system", None)
        if not callable(build):
            raise GeneratedSystemError(
                f"{self.root / self.name / '__init__.py'}: the package has no build_system(); "
                f"regenerate it with `sagacrew generate SPEC -o {self.root}`"
            )
        system: SagaSystem = build(store_url, metrics=metrics)
        return system


def read_blueprint(root: Path) -> dict[str, Any]:
    """``root/blueprint.json`` as a dict whose ``system`` is a valid package name."""
    blueprint_file = root / BLUEPRINT_FILE
    if not root.is_dir():
        raise GeneratedSystemError(
            f"{root}: not a folder; pass the folder `sagacrew generate SPEC -o DIR` wrote"
        )
    if not blueprint_file.is_file():
        raise GeneratedSystemError(
            f"{blueprint_file}: missing; run `sagacrew generate SPEC -o {root}` first"
        )
    regenerate = f"regenerate it with `sagacrew generate SPEC -o {root}`"
    try:
        data = json.loads(blueprint_file.read_text("utf-8"))
    except UnicodeDecodeError as error:
        raise GeneratedSystemError(
            f"{blueprint_file}:1:1: not a sagacrew blueprint (not UTF-8: {error.reason}); "
            f"{regenerate}"
        ) from None
    except json.JSONDecodeError as error:
        raise GeneratedSystemError(
            f"{blueprint_file}:{error.lineno}:{error.colno}: not a sagacrew blueprint "
            f"(invalid JSON: {error.msg}); {regenerate}"
        ) from None
    if not isinstance(data, dict):
        raise GeneratedSystemError(
            f"{blueprint_file}:1:1: not a sagacrew blueprint (not a JSON object); {regenerate}"
        )
    system = data.get("system")
    if not isinstance(system, str) or not system.isidentifier():
        raise GeneratedSystemError(
            f"{blueprint_file}:1:1: not a sagacrew blueprint (no `system` naming its package, "
            f"got {system!r}); {regenerate}"
        )
    return data


def import_package(root: Path, name: str) -> ModuleType:
    """Import the generated package ``root/<name>/``, putting ``root`` on ``sys.path``.

    As with any import, a package of that name imported before (from this folder or
    another) is returned as it is.
    """
    if not name.isidentifier():
        raise GeneratedSystemError(
            f"{root / BLUEPRINT_FILE}:1:1: system {name!r} is not a package name; "
            f"regenerate it with `sagacrew generate SPEC -o {root}`"
        )
    if not (root / name / "__init__.py").is_file():
        raise GeneratedSystemError(
            f"{root / name}: the generated package is missing; "
            f"regenerate it with `sagacrew generate SPEC -o {root}`"
        )
    path = str(root.resolve())
    if path not in sys.path:
        sys.path.insert(0, path)
    return importlib.import_module(name)


def load_system(root: Path) -> LoadedSystem:
    """Read ``root/blueprint.json`` and import the package it names."""
    blueprint = read_blueprint(root)
    return LoadedSystem(root, blueprint, import_package(root, blueprint["system"]))
