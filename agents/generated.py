"""Open a generated system folder: its blueprint (as the crew's model) and its package.

Finding and importing the package is the runtime's job (:mod:`sagacrew.runtime.loader`,
which ``sagacrew serve`` uses alone); this adds the typed :class:`Blueprint` the crew's
commands read.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from pydantic import ValidationError

from sagacrew.agents.blueprint import Blueprint
from sagacrew.agents.spec.model import Workload
from sagacrew.runtime import SeededFaults, SystemDefinition, workload_faults
from sagacrew.runtime.loader import (
    BLUEPRINT_FILE,
    STATE_DIR,
    GeneratedSystemError,
    definition_of,
    import_package,
    read_blueprint,
)

__all__ = ["GeneratedSystem", "GeneratedSystemError", "open_generated"]


@dataclass(frozen=True)
class GeneratedSystem:
    """A generated system: its folder, its validated blueprint, its imported package."""

    root: Path
    blueprint: Blueprint
    package: ModuleType

    @property
    def name(self) -> str:
        """The system's name (also its package's name)."""
        return self.blueprint.system

    @property
    def definition(self) -> SystemDefinition:
        """The package's ``build_system``: its actors, sagas and saga inputs, and the call
        that builds the running system on a store."""
        return definition_of(self.package, self.root)

    @property
    def workload(self) -> Workload:
        """The blueprint's workload plan: sagas per type and the injected fault rates."""
        assert self.blueprint.validation is not None
        return self.blueprint.validation.workload

    def workload_faults(self) -> SeededFaults:
        """The workload plan's seeded faults, as an injector."""
        return workload_faults(self.workload.model_dump())

    @property
    def state_dir(self) -> Path:
        """Where runs keep their databases and reports (not committed)."""
        return self.root / STATE_DIR


def open_generated(root: Path) -> GeneratedSystem:
    """Load ``root/blueprint.json`` and import the package it names.

    Raises :class:`GeneratedSystemError` (one line: the file and the fix) when ``root`` is
    not a generated system.
    """
    data = read_blueprint(root)
    try:
        blueprint = Blueprint.model_validate(data)
    except ValidationError as error:
        first = str(error).splitlines()[0]
        raise GeneratedSystemError(
            f"{root / BLUEPRINT_FILE}:1:1: not a sagacrew blueprint ({first}); regenerate it "
            f"with `sagacrew generate SPEC -o {root}`"
        ) from None
    return GeneratedSystem(root, blueprint, import_package(root, blueprint.system))
