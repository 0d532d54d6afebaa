"""Drives one saga: forward steps, waiting for completion events, compensation.

Every transition is persisted before it is acted on, so a run rebuilt from the store
(:class:`History`) resumes exactly where the previous process stopped:

- a forward or compensation attempt logged ``started`` with no outcome is re-executed
  with the same attempt number and idempotency key;
- a step logged ``waiting`` keeps waiting, its timeout measured from the attempt's start;
- a step logged ``failed`` (not final) continues with the next attempt;
- a compensation attempt logged ``started`` (a late one included) is re-executed.

Deadline: checked before each forward attempt and each retry delay; an attempt already
running finishes within its own ``timeout_s``. Compensations are not bounded by the
deadline. Compensation policy on a dead-lettered compensation: the remaining steps
are still compensated (Temporal-style), the parked one waits for ``redrive``.

A run is composed of its parts: state, persistence and one attempt (``_run``), the
forward path (``_forward``), the compensation path (``_compensation``), the reopening of
a compensated saga for a late completion (``_late``); the listener protocol and the
shared environment live in ``_env``.
"""

from __future__ import annotations

from sagacrew.runtime.saga._compensation import CompensationPath
from sagacrew.runtime.saga._forward import ForwardPath
from sagacrew.runtime.saga._late import LatePath
from sagacrew.runtime.saga._types import ACTIVE_STATES, SagaResult, SagaState


class SagaRun(ForwardPath, CompensationPath, LatePath):
    """One saga being driven to a terminal state (one asyncio task runs ``drive``)."""

    async def drive(self) -> SagaResult:
        """Run until the saga is terminal (first reopening it for the late compensations
        it was given, latest step first); return its result."""
        try:
            for index in sorted(self.late, reverse=True):
                await self._reopen_late(index)
            while self.saga.state in ACTIVE_STATES:  # not terminal
                if self.saga.state == SagaState.COMPENSATING:
                    await self._compensate()
                elif self.saga.step_index >= len(self.definition.steps):
                    await self._persist(state=SagaState.COMPLETED, ended_at=self.env.clock())
                    self.env.metrics.completed += 1
                    self._finished()
                else:
                    await self._forward(self.saga.step_index)
        finally:
            self.release_acks(False)
        return self.result()

    def result(self) -> SagaResult:
        return SagaResult(
            saga_id=self.saga.saga_id,
            saga_name=self.saga.saga_name,
            state=SagaState(self.saga.state),
            steps_completed=self.saga.steps_completed,
            steps_total=self.saga.steps_total,
            data=dict(self.saga.data),
            error=self.saga.error,
        )
