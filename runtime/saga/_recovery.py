"""Recovery: every saga in flight found in the store, driven again.

Reading 10,000 sagas one by one would take three queries each; :meth:`Recovery._recover_all`
reads every in-flight saga, step log and parked compensation with three queries, and falls
back to one by one only to find (and quarantine) a saga whose rows cannot be read.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sagacrew.runtime.saga._driving import SagaDriving, missing_version
from sagacrew.runtime.saga._errors import SagaDefinitionError
from sagacrew.runtime.saga._history import History
from sagacrew.runtime.saga._types import ACTIVE_STATES
from sagacrew.runtime.store import CorruptRecord, DeadLetter, SagaExecution

logger = logging.getLogger("sagacrew.runtime.saga")


class Recovery(SagaDriving):
    """Resumes the sagas in flight (see the module)."""

    async def _recover_all(self) -> list[str]:
        """Resume every non-terminal saga not running here; their ids."""
        states = [state.value for state in ACTIVE_STATES]
        try:  # every row at once; one by one only to find a corrupt one
            active = self.store.list_sagas(states)
            loaded = self._load_runs(states)
        except CorruptRecord:
            active, loaded = await self._readable_sagas(states), {}
        missing = sorted({saga.saga_name for saga in active} - set(self._definitions))
        if missing:
            raise SagaDefinitionError(
                f"the store holds unfinished sagas of unknown types {missing}; pass their "
                "definitions to SagaOrchestrator before recover()"
            )
        lacking = [saga for saga in active if self._plan_of(saga) is None]
        if lacking:  # a redeploy dropped the plan they follow: refuse, change nothing
            raise SagaDefinitionError(missing_version(lacking[0]))
        resumed = []
        for saga in active:
            if saga.saga_id not in self._live:
                try:
                    if saga.saga_id in loaded:
                        history, parked = loaded[saga.saga_id]
                        self._spawn(saga, history, parked)
                    else:
                        self._resume(saga)
                except CorruptRecord as error:
                    await self._quarantine_saga(saga.saga_id, error)
                    continue
                resumed.append(saga.saga_id)
        if resumed:
            logger.info("recovering %d sagas", len(resumed), extra={"sagas": resumed})
        return resumed

    def _load_runs(self, states: Sequence[str]) -> dict[str, tuple[History, dict[int, DeadLetter]]]:
        """The history and parked compensations of every saga in ``states``, read with two
        queries (recovery of many sagas); :class:`CorruptRecord` if any row is broken."""
        parked: dict[str, dict[int, DeadLetter]] = {}
        for letter in self.store.list_dead_letters(status="parked"):
            if letter.kind == "compensation" and letter.step_index is not None:
                parked.setdefault(str(letter.saga_id), {})[letter.step_index] = letter
        return {
            saga_id: (History.from_log(rows), parked.get(saga_id, {}))
            for saga_id, rows in self.store.step_logs(states).items()
        }

    async def _readable_sagas(self, states: Sequence[str]) -> list[SagaExecution]:
        """The sagas in ``states``, read one by one; a corrupt one is quarantined."""
        readable: list[SagaExecution] = []
        for saga_id in self.store.list_saga_ids(states):
            try:
                saga = self.store.get_saga(saga_id)
            except CorruptRecord as error:
                await self._quarantine_saga(saga_id, error)
                continue
            if saga is not None:
                readable.append(saga)
        return readable
