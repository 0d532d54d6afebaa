"""The compensation path of a saga run: succeeded steps, and the step that failed when it
may have acted, compensated latest first, with retries; a compensation that exhausts
them is parked in the dead-letter queue."""

from __future__ import annotations

import logging
from dataclasses import replace

from sagacrew.runtime.saga._history import COMPENSATION, is_late
from sagacrew.runtime.saga._run import RunCore
from sagacrew.runtime.saga._types import Alert, SagaState
from sagacrew.runtime.store import DeadLetter, DeadLetterUpdate, StepLogEntry


class CompensationPath(RunCore):
    """Compensation of a run's succeeded steps."""

    # --- compensation ---------------------------------------------------------------

    def compensation_plan(self) -> list[int]:
        """Steps to compensate, latest first: the succeeded compensatable steps, and the
        step the forward path failed at when it may have acted (any failure but a
        business refusal: its compensation gets ``step_result == {}`` and names the
        forward key, a no-op where the step never acted), minus those whose last
        compensation succeeded. An unfinished compensation (e.g. a late one,
        interrupted) is finished. Parked ones are included only when redriven (or when
        a redrive attempt was in flight)."""
        candidates = set(self.history.forward_results) | set(self.history.last_compensation)
        failing = self.history.failing_index()
        if failing is not None and self.history.maybe_acted(failing):
            candidates.add(failing)
        plan = []
        for index in sorted(candidates, reverse=True):
            if self.definition.steps[index].compensation is None:
                continue
            last = self.history.last_compensation.get(index)
            if last is not None and last.status == "succeeded":
                continue
            interrupted = last is not None and last.status == "started"
            if index in self.parked and index not in self.redrive and not interrupted:
                continue
            plan.append(index)
        return plan

    async def _compensate(self) -> None:
        """Run the plan, then end ``compensation_failed`` (something is parked) or
        ``compensated``. A saga reopened for a late compensation that ends in the state
        it had is not counted (nor reported finished) a second time."""
        for index in self.compensation_plan():
            await self._compensate_step(index)
        now = self.env.clock()
        state = SagaState.COMPENSATION_FAILED if self.parked else SagaState.COMPENSATED
        await self._persist(state=state, ended_at=now)
        if state != self._reopened_from:
            if self.parked:
                self.env.metrics.compensation_failed += 1
            else:
                self.env.metrics.compensated += 1
            self._finished()
        if self.parked:
            steps = ", ".join(repr(self.definition.steps[i].name) for i in sorted(self.parked))
            self._log(logging.ERROR, f"saga compensation failed; dead-lettered: {steps}")
        else:
            self._log(logging.INFO, "saga compensated")

    async def _compensate_step(self, index: int) -> None:
        step = self.definition.steps[index]
        compensation = step.compensation
        assert compensation is not None
        policy = self.definition.compensation_retry
        letter = self.parked.get(index)
        last = self.history.last_compensation.get(index)
        attempt, replay = 1, False
        if last is not None and last.status == "started":
            attempt, replay = last.attempt, True
        elif last is not None:
            attempt = last.attempt + 1
        late = last is not None and last.status != "succeeded" and is_late(last)
        # The budget counts attempt numbers: a redrive gets a fresh one after the parked
        # attempts, a late compensation after the first compensation's attempts.
        spent = self.history.first_compensation_attempts.get(index, 0) if late else 0
        budget_end = (letter.attempts if letter is not None else spent) + policy.max_attempts
        step_result = self.history.forward_results.get(index, {})
        first = attempt
        while True:
            if replay and last is not None:
                started_at = last.started_at
            else:
                started_at = self.env.clock()
                await self._persist(
                    step=self._entry(
                        index, COMPENSATION, "started", attempt, started_at, late=late
                    ),
                    step_index=index,
                )
            replay = False
            outcome = await self._attempt(
                index, COMPENSATION, attempt, compensation, step_result, late=late
            )
            now = self.env.clock()
            if outcome.result is not None:
                redriven = None
                if letter is not None and letter.id is not None:
                    redriven = DeadLetterUpdate(letter.id, "redriven", now, attempts=attempt)
                entry = self._entry(
                    index, COMPENSATION, "succeeded", attempt, started_at, ended_at=now,
                    result=outcome.result, late=late,
                )  # fmt: skip
                await self._persist(step=entry, dead_letter_update=redriven)
                self.parked.pop(index, None)
                self.env.listeners.on_compensation(self.saga.saga_name, step.name)
                return
            failed = self._entry(
                index, COMPENSATION, "failed", attempt, started_at, ended_at=now,
                error=outcome.error, late=late,
            )  # fmt: skip
            if outcome.retriable and attempt < budget_end:
                await self._persist(step=failed)
                self.env.metrics.retries += 1
                self.env.listeners.on_retry(self.saga.saga_name, step.name, COMPENSATION)
                await self.env.sleep(policy.delay_s(attempt - first + 1, self.env.rng))
                attempt += 1
                continue
            await self._dead_letter(index, attempt, failed, outcome.error, letter)
            return

    async def _dead_letter(
        self,
        index: int,
        attempt: int,
        failed: StepLogEntry,
        error: str,
        letter: DeadLetter | None,
    ) -> None:
        step = self.definition.steps[index]
        now = self.env.clock()
        alert = Alert(
            kind="compensation_failed",
            saga_id=self.saga.saga_id,
            saga_name=self.saga.saga_name,
            step_name=step.name,
            error=f"compensation of step {step.name!r} failed after {attempt} attempts: {error}",
            correlation_id=self.saga.correlation_id,
            at=now,
            dead_letter_id=None if letter is None else letter.id,
        )
        if letter is not None and letter.id is not None:
            await self._persist(
                step=failed,
                alert=alert,
                dead_letter_update=DeadLetterUpdate(
                    letter.id, "parked", now, error=error, attempts=attempt
                ),
            )
            letter = replace(letter, error=error, attempts=attempt, updated_at=now)
        else:
            letter = DeadLetter(
                kind="compensation",
                saga_id=self.saga.saga_id,
                step_index=index,
                step_name=step.name,
                payload={
                    "saga_name": self.saga.saga_name,
                    "step_name": step.name,
                    "step_index": index,
                    "phase": COMPENSATION,
                    "step_result": self.history.forward_results.get(index, {}),
                    "data": dict(self.saga.data),
                    "last_attempt": attempt,
                    "last_idempotency_key": failed.idempotency_key,
                },
                error=error,
                attempts=attempt,
                status="parked",
                correlation_id=self.saga.correlation_id,
                causation_id=failed.causation_id,
                created_at=now,
                updated_at=now,
            )
            ids = await self._persist(step=failed, dead_letter=letter, alert=alert)
            letter = replace(letter, id=ids.dead_letter_id)
            alert = replace(alert, dead_letter_id=ids.dead_letter_id)
        self.parked[index] = letter
        self.env.metrics.dead_lettered += 1
        self.env.listeners.on_dead_letter(self.saga.saga_name, step.name, letter.id)
        self._log(logging.ERROR, "compensation dead-lettered", row=failed, dead_letter_id=letter.id)
        self.env.alert(alert)
