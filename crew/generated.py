"""Open a generated system folder: its blueprint and its Python package."""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from sagacrew.crew.blueprint import Blueprint


class GeneratedSystemError(Exception):
    """The folder is not a generated system (one line: what is wrong; the fix)."""


@dataclass(frozen=True)
class GeneratedSystem:
    root: Path
    blueprint: Blueprint
    package: ModuleType

    @property
    def name(self) -> str:
        return self.blueprint.system

    @property
    def state_dir(self) -> Path:
        """Where runs keep their databases and reports (not committed)."""
        return self.root / ".sagacrew"


def open_generated(root: Path) -> GeneratedSystem:
    """Load ``root/blueprint.json`` and import the package it names."""
    blueprint_file = root / "blueprint.json"
    if not root.is_dir():
        raise GeneratedSystemError(
            f"{root}: not a folder; pass the folder `sagacrew generate SPEC -o DIR` wrote"
        )
    if not blueprint_file.is_file():
        raise GeneratedSystemError(
            f"{blueprint_file}: missing; run `sagacrew generate SPEC -o {root}` first"
        )
    try:
        blueprint = Blueprint.model_validate_json(blueprint_file.read_text("utf-8"))
    except ValueError as error:
        first = str(error).splitlines()[0]
        raise GeneratedSystemError(
            f"{blueprint_file}:1:1: not a sagacrew blueprint ({first}); regenerate it with "
            f"`sagacrew generate SPEC -o {root}`"
        ) from None
    path = str(root.resolve())
    if path not in sys.path:
        sys.path.insert(0, path)
    package = importlib.import_module(blueprint.system)
    return GeneratedSystem(root, blueprint, package)
