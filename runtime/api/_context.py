"""What every route needs: the running system, its blueprint, its flowcharts folder and
the saga-input limit."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sagacrew.runtime.api._errors import HttpError
from sagacrew.runtime.api._history import SagaHistory, saga_history
from sagacrew.runtime.api._progress import StepOutline, blueprint_sagas, outline_from_blueprint
from sagacrew.runtime.saga import SagaOrchestrator
from sagacrew.runtime.store import SagaExecution
from sagacrew.runtime.system import SagaSystem


@dataclass(frozen=True)
class AppContext:
    """The system served, its ``blueprint.json`` mapping, its flowcharts folder and the
    largest saga input ``POST /api/sagas/{saga_name}`` accepts (bytes of compact JSON)."""

    system: SagaSystem
    blueprint: Mapping[str, Any]
    flowcharts_dir: Path | None
    max_input_bytes: int = 64 * 1024
    _outlines: dict[str, list[StepOutline]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._outlines.update(outline_from_blueprint(self.blueprint))

    def orchestrator(self) -> SagaOrchestrator:
        """The running orchestrator; 503 (``Retry-After: 1``) while the system is not started."""
        orchestrator = self.system.orchestrator
        if orchestrator is None:
            raise HttpError(
                503,
                f"the saga system {self.system.name!r} is not started yet",
                {"fix": "retry in a moment; the server starts the system before serving"},
                headers={"Retry-After": "1"},
            )
        return orchestrator

    def outline(self, saga_name: str) -> list[StepOutline]:
        """The steps of a saga type: the running definition first, else the blueprint's."""
        orchestrator = self.system.orchestrator
        if orchestrator is not None:
            definition = orchestrator.definitions.get(saga_name)
            if definition is not None:
                return [StepOutline(step.name, step.pivot) for step in definition.steps]
        return list(self._outlines.get(saga_name, []))

    def history(self, saga: SagaExecution) -> SagaHistory:
        """What happened to ``saga``: its steps, failure, timeline (see ``_history``)."""
        store = self.system.store
        orchestrator = self.system.orchestrator
        definition = None if orchestrator is None else orchestrator.definitions.get(saga.saga_name)
        return saga_history(
            saga,
            self.outline(saga.saga_name),
            store.step_log(saga.saga_id),
            store.list_dead_letters(saga_id=saga.saga_id),
            definition,
        )

    def saga_entry(self, saga_name: str) -> Mapping[str, Any] | None:
        """The blueprint's entry for a saga type, or ``None``."""
        for saga in blueprint_sagas(self.blueprint):
            if saga["name"] == saga_name:
                entry: Mapping[str, Any] = saga
                return entry
        return None

    def saga_names(self) -> list[str]:
        """Every saga type known to the orchestrator or the blueprint, sorted."""
        names = set(self._outlines)
        if self.system.orchestrator is not None:
            names.update(self.system.orchestrator.definitions)
        return sorted(names)
