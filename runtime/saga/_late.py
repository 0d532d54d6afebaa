"""Late completions: a completion event that arrives after the saga gave its step up.

A step that waits for a completion event and does not get it in time fails with an
unknown outcome; the saga compensates it (its undo names the forward key, so it undoes
whatever the forward command did, or nothing). The remote side may still finish the work
afterwards, e.g. when the first undo found nothing to undo, or cancelled running work
that completed anyway. When that step's completion event then arrives
(:meth:`SagaOrchestrator.deliver`), the step's compensation is run once more with a
distinct, stable command key, ``f"{saga_id}:{index}:late_compensation"``: a no-op at the
target when the first undo took effect, the undo of the late work when it did not. So
the work is undone exactly once, whichever order things happen in.

The late compensation is logged like any other (phase ``compensation``, the step's next
attempt; its rows' keys read ``...:late_compensation:<attempt>``) and is durable: the saga
is reopened (``compensating``) in the same transaction as the late attempt's ``started``
row, so after a crash ``recover()`` finishes it; retries and the dead-letter queue apply
as to every compensation. The saga then ends in the state it had (``compensated``), or
``compensation_failed`` when the late compensation was dead-lettered.
"""

from __future__ import annotations

import logging

from sagacrew.runtime.saga._definition import SagaDefinition
from sagacrew.runtime.saga._history import COMPENSATION, History
from sagacrew.runtime.saga._run import RunCore
from sagacrew.runtime.saga._types import SagaState

GIVEN_UP_STATES = (
    SagaState.COMPENSATING,
    SagaState.COMPENSATED,
    SagaState.COMPENSATION_FAILED,
)
"""States in which a saga's failed step can still complete late."""


def late_step(definition: SagaDefinition, history: History, event_name: str) -> int | None:
    """The step of a compensating or compensated saga that completes late on
    ``event_name``: the step the forward path failed at, when it waits for that event,
    has a compensation and was not compensated late already (a redelivered event undoes
    nothing twice). ``None`` when there is no such step."""
    index = history.failing_index()
    if index is None or index in history.late_compensated:
        return None
    step = definition.steps[index]
    if step.completion_event != event_name or step.compensation is None:
        return None
    return index


class LatePath(RunCore):
    """Reopens a compensated saga for the late compensation of the steps in ``late``."""

    async def _reopen_late(self, index: int) -> None:
        """Persist, in one transition, the saga back to ``compensating`` and the late
        compensation's first attempt ``started``; the compensation path then runs it."""
        if self._reopened_from is None:
            self._reopened_from = SagaState(self.saga.state)
        last = self.history.last_compensation.get(index)
        attempt = 1 if last is None else last.attempt + 1
        now = self.env.clock()
        entry = self._entry(index, COMPENSATION, "started", attempt, now, late=True)
        await self._persist(
            step=entry, state=SagaState.COMPENSATING, step_index=index, ended_at=None
        )
        self._log(
            logging.WARNING,
            "late completion: the step completed after the saga gave it up; compensating it again",
            step=self.definition.steps[index].name,
            attempt=attempt,
        )
