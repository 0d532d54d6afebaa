"""The forward path of a saga run: steps in order, completion events, retries, the
deadline, and the turn to compensation (before the pivot) or to stalled (after it, or at
a step that may have acted and cannot be undone)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from sagacrew.runtime.saga._history import FORWARD, UNKNOWN, outcome_of
from sagacrew.runtime.saga._run import RunCore, _Outcome
from sagacrew.runtime.saga._types import Alert, SagaState
from sagacrew.runtime.store import StepLogEntry


class ForwardPath(RunCore):
    """Forward steps of a run, and the intake of their completion events."""

    # --- completion events ----------------------------------------------------------

    def accepts(self, event_name: str) -> bool:
        """True when the current forward step completes on ``event_name``."""
        if self.saga.state not in (SagaState.RUNNING, SagaState.WAITING):
            return False
        index = self.saga.step_index
        steps = self.definition.steps
        return index < len(steps) and steps[index].completion_event == event_name

    def offer(self, payload: Mapping[str, Any]) -> asyncio.Future[bool] | None:
        """Hand over the current step's completion event.

        When the step is already waiting, returns a future that becomes True once the
        step's success is persisted (False if the run stopped first). While the action
        is still running, the event is kept for it and ``None`` is returned.
        """
        index = self.saga.step_index
        ack: asyncio.Future[bool] | None = None
        if self.saga.state == SagaState.WAITING:
            ack = asyncio.get_running_loop().create_future()
            self._acks.append(ack)
        if self._waiter is not None and self._waiter[0] == index and not self._waiter[1].done():
            self._waiter[1].set_result(dict(payload))
        else:
            self._early.setdefault(index, dict(payload))
        return ack

    def release_acks(self, value: bool) -> None:
        """Resolve every pending delivery acknowledgement."""
        for ack in self._acks:
            if not ack.done():
                ack.set_result(value)
        self._acks.clear()

    async def _wait_for_event(
        self, index: int, started_at: float, action_result: dict[str, Any]
    ) -> _Outcome:
        """Wait for step ``index``'s completion event (or take the one that came early)."""
        waiting_since = self.env.clock()
        step = self.definition.steps[index]
        payload = self._early.pop(index, None)
        if payload is None:
            remaining_s = step.attempt_timeout_s - (waiting_since - started_at)
            future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
            self._waiter = (index, future)
            try:
                payload = await asyncio.wait_for(future, timeout=max(remaining_s, 0.0))
            except TimeoutError:
                return _Outcome(
                    None,
                    f"completion event {step.completion_event!r} of step {step.name!r} was not "
                    f"delivered within {step.attempt_timeout_s:g} s",
                    unknown=True,
                )
            finally:
                self._waiter = None
        return _Outcome({**action_result, **payload}, waited_s=self.env.clock() - waiting_since)

    async def _forward(self, index: int) -> None:
        step = self.definition.steps[index]
        last = self.history.last_forward.get(index)
        attempt, resume = 1, ""
        if last is not None and last.status in ("started", "waiting"):
            attempt, resume = last.attempt, last.status
        elif last is not None and last.status == "failed":
            attempt = last.attempt + 1
        while True:
            if resume and last is not None:
                started_at = last.started_at
            else:
                started_at = self.env.clock()
                if started_at >= self.saga.deadline_at:
                    await self._fail_for_good(
                        index, None, f"deadline passed before attempt {attempt}"
                    )
                    return
                await self._persist(
                    step=self._entry(index, FORWARD, "started", attempt, started_at),
                    state=SagaState.RUNNING,
                    step_index=index,
                )
            if resume == "waiting" and last is not None:
                outcome = await self._wait_for_event(index, started_at, dict(last.result or {}))
            else:
                outcome = await self._attempt(index, FORWARD, attempt, step.action, {})
                if outcome.ok and outcome.result is not None and step.completion_event:
                    await self._persist(
                        step=self._entry(
                            index, FORWARD, "waiting", attempt, started_at, result=outcome.result
                        ),
                        state=SagaState.WAITING,
                    )
                    outcome = await self._wait_for_event(index, started_at, outcome.result)
            resume = ""
            if outcome.result is not None:
                await self._succeed(index, attempt, started_at, outcome)
                return
            delay_s = await self._forward_failed(index, attempt, started_at, outcome)
            if delay_s is None:
                return
            self.env.metrics.retries += 1
            self.env.listeners.on_retry(self.saga.saga_name, step.name, FORWARD)
            await self.env.sleep(delay_s)
            attempt += 1

    async def _succeed(
        self, index: int, attempt: int, started_at: float, outcome: _Outcome
    ) -> None:
        """Persist step ``index`` done with ``outcome``'s result; its latency leaves out the
        wait for a completion event (the external work's duration, not the system's)."""
        result = outcome.result
        assert result is not None
        now = self.env.clock()
        last = index == len(self.definition.steps) - 1
        entry = self._entry(
            index, FORWARD, "succeeded", attempt, started_at, ended_at=now, result=result,
            waited_s=outcome.waited_s,
        )  # fmt: skip
        progress: dict[str, Any] = {
            "step_index": index + 1,
            "steps_completed": self.saga.steps_completed + 1,
            "data": {**self.saga.data, **result},
        }
        next_step = self._next_start(index, now)
        if not last and self.saga.state == SagaState.RUNNING:
            await self._persist_progress(entry, next_step, progress)
        else:  # completed, or running again after waiting for its completion event
            if last:
                progress["ended_at"] = now
            state = SagaState.COMPLETED if last else SagaState.RUNNING
            await self._persist(step=entry, next_step=next_step, state=state, **progress)
        self._early.pop(index, None)
        self.release_acks(True)
        self._step_finished(entry, ok=True)
        if last:
            self.env.metrics.completed += 1
            self._finished()
            self._log(logging.INFO, "saga completed")

    def _next_start(self, index: int, now: float) -> StepLogEntry | None:
        """The ``started`` row of step ``index + 1``'s first attempt, to fold into the
        commit of step ``index``'s success (one commit instead of two), or ``None`` when
        there is no next step, it was attempted before, or the deadline has passed.

        Safe because ``started`` means "may have acted" and asks nothing of the action:
        after a crash right after this commit, recovery finds the next step ``started``
        and runs that attempt with its own idempotency key, just as after a crash right
        after a ``started`` commit of its own; the deadline is checked here as it would
        be before the attempt."""
        after = index + 1
        if after >= len(self.definition.steps) or after in self.history.last_forward:
            return None
        if now >= self.saga.deadline_at:
            return None
        return self._entry(after, FORWARD, "started", 1, now)

    async def _forward_failed(
        self, index: int, attempt: int, started_at: float, outcome: _Outcome
    ) -> float | None:
        """Persist a failed attempt; return the delay before the next one, or ``None`` when
        the failure is final (the saga is then compensating or stalled)."""
        step = self.definition.steps[index]
        now = self.env.clock()
        failed = self._entry(
            index, FORWARD, "failed", attempt, started_at, ended_at=now, error=outcome.error,
            result={"outcome": outcome.kind},
        )  # fmt: skip
        delay_s = step.retry_policy.delay_s(attempt, self.env.rng)
        past_deadline = now + delay_s >= self.saga.deadline_at
        pivot = self.definition.pivot_index
        after_pivot = pivot is not None and index > pivot
        exhausted = not after_pivot and attempt >= step.retry_policy.max_attempts
        self._log(logging.WARNING, "step attempt failed", row=failed)
        timed_out_for_good = outcome.unknown and step.on_timeout != "retry"
        if outcome.retriable and not exhausted and not past_deadline and not timed_out_for_good:
            await self._persist(step=failed)
            self._step_finished(failed, ok=False)
            return delay_s
        if timed_out_for_good and step.on_timeout == "stall":
            error = (
                f"saga {self.saga.saga_id!r} ({self.saga.saga_name}): step {step.name!r} "
                f"timed out and may have acted; it says `on_timeout: stall`, so nothing was "
                f"retried or compensated: find out what happened, then resolve by hand "
                f"({outcome.error})"
            )
            await self._stall(index, failed, "unknown_outcome", error)
            return None
        if timed_out_for_good:
            why = "timed out, on_timeout: compensate"
        elif outcome.defect:
            why = "defect, not retried"
        elif not outcome.retriable:
            why = "business refusal"
        elif exhausted:
            why = f"{attempt} attempts exhausted"
        else:
            why = "saga deadline passed"
        await self._fail_for_good(index, failed, f"{why}: {outcome.error}")
        return None

    async def _fail_for_good(self, index: int, failed: StepLogEntry | None, why: str) -> None:
        """The step failed for good: after the pivot the saga is stalled; at a step that
        may have acted (it timed out) and has no compensation, it is stalled too (an
        ``unknown_outcome`` alert: compensating the earlier steps would drop what the
        step did); otherwise the saga turns to compensation."""
        step = self.definition.steps[index]
        pivot = self.definition.pivot_index
        error = f"step {step.name!r} failed ({why})"
        if pivot is not None and index > pivot:
            await self._stall(index, failed, "stalled", error)
            return
        unknown = self.history.outcome_unknown(index) or (
            failed is not None and outcome_of(failed) == UNKNOWN
        )
        if unknown and step.compensation is None and not step.read_only:
            error = (
                f"saga {self.saga.saga_id!r} ({self.saga.saga_name}): step {step.name!r} "
                f"failed ({why}) and may have acted, but it has no compensation, so the "
                "earlier steps were not compensated; give the operation an undo, or "
                "resolve by hand"
            )
            await self._stall(index, failed, "unknown_outcome", error)
            return
        await self._persist(step=failed, state=SagaState.COMPENSATING, error=error)
        if failed is not None:
            self._step_finished(failed, ok=False)
        self._log(logging.WARNING, "saga compensating", step=step.name, error=error)

    async def _stall(self, index: int, failed: StepLogEntry | None, kind: str, error: str) -> None:
        """End the saga ``stalled`` and alert an operator (``kind``: the alert's kind); the
        alert is written with the transition, then delivered."""
        step = self.definition.steps[index]
        now = self.env.clock()
        alert = Alert(
            kind=kind,
            saga_id=self.saga.saga_id,
            saga_name=self.saga.saga_name,
            step_name=step.name,
            error=error,
            correlation_id=self.saga.correlation_id,
            at=now,
        )
        await self._persist(
            step=failed, alert=alert, state=SagaState.STALLED, ended_at=now, error=error
        )
        if failed is not None:
            self._step_finished(failed, ok=False)
        self.env.metrics.stalled += 1
        self._finished()
        message = "saga stalled after its pivot" if kind == "stalled" else "saga stalled"
        self._log(logging.ERROR, message, step=step.name, error=error)
        self.env.alert(alert)
