"""Drives one saga: forward steps, waiting for completion events, compensation.

Every transition is persisted before it is acted on, so a run rebuilt from the store
(:class:`History`) resumes exactly where the previous process stopped:

- a forward or compensation attempt logged ``started`` with no outcome is re-executed
  with the same attempt number and idempotency key;
- a step logged ``waiting`` keeps waiting, its timeout measured from the attempt's start;
- a step logged ``failed`` (not final) continues with the next attempt.

Deadline: checked before each forward attempt and each retry delay; an attempt already
running finishes within its own ``timeout_s``. Compensations are not bounded by the
deadline. Compensation policy on a dead-lettered compensation: the remaining steps
are still compensated (Temporal-style), the parked one waits for ``redrive``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from sagacrew.runtime.saga._definition import Dispatch, SagaDefinition, StepAction, StepContext
from sagacrew.runtime.saga._errors import StepFailed
from sagacrew.runtime.saga._faults import FaultInjector
from sagacrew.runtime.saga._history import (
    COMPENSATION,
    FORWARD,
    History,
    idempotency_key,
    transition_id,
)
from sagacrew.runtime.saga._types import Alert, SagaMetrics, SagaResult, SagaState
from sagacrew.runtime.store import (
    DeadLetter,
    DeadLetterUpdate,
    SagaExecution,
    SagaTransition,
    SagaUpdate,
    StepLogEntry,
    Store,
    TransitionIds,
)

logger = logging.getLogger("sagacrew.runtime.saga")


class SagaListener(Protocol):
    """Observes sagas as they move (metrics, tracing); every method here is a no-op.

    Subclass it and override only what you need (or implement every method). The
    orchestrator calls listeners synchronously on its loop, right after the transition
    they report was persisted, so a listener never reports what a crash could undo. They
    must be quick and must not block; an exception from a listener is logged and
    ignored: observers never change a saga's course.

    - ``on_saga_started``: a new saga was persisted (not when ``recover()`` resumes one).
    - ``on_saga_finished``: the saga reached a terminal ``state`` (``completed``,
      ``compensated``, ``compensation_failed``, ``stalled``); a redriven saga finishes
      a second time.
    - ``on_step_finished``: a forward attempt of a step ended, ``ok`` (the step
      succeeded) or not (the attempt failed); ``latency_s`` runs from the attempt's start
      to its end, waiting for a completion event included.
    - ``on_retry``: another attempt follows a failed one; ``phase`` is ``forward`` or
      ``compensation``.
    - ``on_compensation``: a step's compensation succeeded.
    - ``on_dead_letter``: a compensation exhausted its attempts and was parked in the
      dead-letter queue (``dead_letter_id`` is its id there).
    """

    def on_saga_started(self, saga_name: str, saga_id: str) -> None:
        """A new saga was persisted."""
        return None

    def on_saga_finished(self, saga_name: str, saga_id: str, state: SagaState) -> None:
        """The saga reached a terminal state."""
        return None

    def on_step_finished(self, saga_name: str, step_name: str, latency_s: float, ok: bool) -> None:
        """A forward attempt ended."""
        return None

    def on_retry(self, saga_name: str, step_name: str, phase: str) -> None:
        """A failed attempt will be retried."""
        return None

    def on_compensation(self, saga_name: str, step_name: str) -> None:
        """A compensation succeeded."""
        return None

    def on_dead_letter(self, saga_name: str, step_name: str, dead_letter_id: int | None) -> None:
        """A compensation was dead-lettered."""
        return None


@dataclass(frozen=True)
class Listeners(SagaListener):
    """Fans every notification out to ``listeners``, in order, isolating their failures."""

    listeners: Sequence[SagaListener] = ()

    def _each(self, hook: str, *args: Any) -> None:
        for listener in self.listeners:
            try:
                getattr(listener, hook)(*args)
            except Exception:
                logger.exception("saga listener %r raised in %s", listener, hook)

    def on_saga_started(self, saga_name: str, saga_id: str) -> None:
        self._each("on_saga_started", saga_name, saga_id)

    def on_saga_finished(self, saga_name: str, saga_id: str, state: SagaState) -> None:
        self._each("on_saga_finished", saga_name, saga_id, state)

    def on_step_finished(self, saga_name: str, step_name: str, latency_s: float, ok: bool) -> None:
        self._each("on_step_finished", saga_name, step_name, latency_s, ok)

    def on_retry(self, saga_name: str, step_name: str, phase: str) -> None:
        self._each("on_retry", saga_name, step_name, phase)

    def on_compensation(self, saga_name: str, step_name: str) -> None:
        self._each("on_compensation", saga_name, step_name)

    def on_dead_letter(self, saga_name: str, step_name: str, dead_letter_id: int | None) -> None:
        self._each("on_dead_letter", saga_name, step_name, dead_letter_id)


@dataclass(frozen=True)
class Env:
    """What every run shares: the store (and its group committer), dispatch, fault
    injector, time and alerts."""

    store: Store
    commit: Callable[[SagaTransition], Awaitable[TransitionIds]]
    dispatch: Dispatch
    faults: FaultInjector | None
    clock: Callable[[], float]
    sleep: Callable[[float], Awaitable[None]]
    rng: random.Random
    metrics: SagaMetrics
    alert: Callable[[Alert], None]
    listeners: Listeners = field(default_factory=Listeners)


@dataclass(frozen=True)
class _Outcome:
    result: dict[str, Any] | None
    error: str = ""
    retriable: bool = True

    @property
    def ok(self) -> bool:
        return self.result is not None


def _json_result(raw: Mapping[str, Any] | None, step_name: str) -> dict[str, Any]:
    result = dict(raw or {})
    try:
        json.dumps(result)
    except (TypeError, ValueError) as exc:
        raise StepFailed(
            f"step {step_name!r} returned a result that is not JSON-serialisable ({exc}); "
            "return only str, int, float, bool, None, lists and dicts",
            retriable=False,
        ) from exc
    return result


class SagaRun:
    """One saga being driven to a terminal state (one asyncio task runs ``drive``)."""

    def __init__(
        self,
        env: Env,
        definition: SagaDefinition,
        saga: SagaExecution,
        history: History,
        parked: dict[int, DeadLetter],
        redrive: frozenset[int] = frozenset(),
    ) -> None:
        self.env = env
        self.definition = definition
        self.saga = saga
        self.history = history
        self.parked = parked
        self.redrive = redrive
        self._early: dict[int, dict[str, Any]] = {}
        self._waiter: tuple[int, asyncio.Future[dict[str, Any]]] | None = None
        self._acks: list[asyncio.Future[bool]] = []

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

    # --- persistence ----------------------------------------------------------------

    async def _persist(
        self,
        *,
        step: StepLogEntry | None = None,
        dead_letter: DeadLetter | None = None,
        dead_letter_update: DeadLetterUpdate | None = None,
        **changes: Any,
    ) -> TransitionIds:
        now = self.env.clock()
        update = SagaUpdate(self.saga.saga_id, now, **changes) if changes else None
        ids = await self.env.commit(
            SagaTransition(
                update=update,
                step=step,
                dead_letter=dead_letter,
                dead_letter_update=dead_letter_update,
            )
        )
        if changes:
            self.saga = replace(self.saga, updated_at=now, **changes)
        return ids

    def _entry(
        self,
        index: int,
        phase: str,
        status: str,
        attempt: int,
        started_at: float,
        *,
        ended_at: float | None = None,
        error: str | None = None,
        result: Mapping[str, Any] | None = None,
    ) -> StepLogEntry:
        key = idempotency_key(self.saga.saga_id, index, phase, attempt)
        step = self.definition.steps[index]
        return StepLogEntry(
            saga_id=self.saga.saga_id,
            step_index=index,
            step_name=step.name,
            phase=phase,
            status=status,
            attempt=attempt,
            compensatable=step.compensation is not None,
            idempotency_key=key,
            started_at=started_at,
            correlation_id=self.saga.correlation_id,
            causation_id=transition_id(key),
            ended_at=ended_at,
            latency_ms=None if ended_at is None else max(0.0, (ended_at - started_at) * 1000),
            error=error,
            result=result,
        )

    def _log(self, level: int, message: str, **fields: Any) -> None:
        extra = {
            "saga_id": self.saga.saga_id,
            "saga_name": self.saga.saga_name,
            "correlation_id": self.saga.correlation_id,
            **fields,
        }
        details = " ".join(f"{key}={value}" for key, value in extra.items())
        logger.log(level, "%s (%s)", message, details, extra=extra)

    def _finished(self) -> None:
        """Tell the listeners the saga is terminal (call after persisting it)."""
        self.env.listeners.on_saga_finished(
            self.saga.saga_name, self.saga.saga_id, SagaState(self.saga.state)
        )

    def _step_finished(self, entry: StepLogEntry, ok: bool) -> None:
        """Tell the listeners a forward attempt ended (call after persisting ``entry``)."""
        latency_s = (entry.latency_ms or 0.0) / 1000.0
        self.env.listeners.on_step_finished(self.saga.saga_name, entry.step_name, latency_s, ok)

    # --- driving --------------------------------------------------------------------

    async def drive(self) -> SagaResult:
        """Run until the saga is terminal; return its result."""
        try:
            while not SagaState(self.saga.state).terminal:
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

    async def _attempt(
        self,
        index: int,
        phase: str,
        attempt: int,
        action: StepAction,
        step_result: Mapping[str, Any],
    ) -> _Outcome:
        step = self.definition.steps[index]
        key = idempotency_key(self.saga.saga_id, index, phase, attempt)
        context = StepContext(
            saga_id=self.saga.saga_id,
            saga_name=self.saga.saga_name,
            step_name=step.name,
            step_index=index,
            phase=phase,
            attempt=attempt,
            idempotency_key=key,
            correlation_id=self.saga.correlation_id,
            causation_id=transition_id(key),
            data=self.saga.data,
            step_result=step_result,
            dispatch=self.env.dispatch,
            command_key=f"{self.saga.saga_id}:{index}:{phase}",
        )
        try:
            if self.env.faults is not None:
                self.env.faults.before(
                    self.saga.saga_id, self.saga.saga_name, step.name, phase, attempt
                )
            raw = await asyncio.wait_for(action(context), timeout=step.timeout_s)
            return _Outcome(_json_result(raw, step.name))
        except StepFailed as exc:
            return _Outcome(None, exc.reason, exc.retriable)
        except TimeoutError:
            return _Outcome(
                None, f"{phase} of step {step.name!r} timed out after {step.timeout_s:g} s"
            )
        except Exception as exc:
            return _Outcome(None, f"{type(exc).__name__}: {exc}")

    async def _wait_for_event(
        self, index: int, started_at: float, action_result: dict[str, Any]
    ) -> _Outcome:
        step = self.definition.steps[index]
        payload = self._early.pop(index, None)
        if payload is None:
            remaining_s = step.timeout_s - (self.env.clock() - started_at)
            future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
            self._waiter = (index, future)
            try:
                payload = await asyncio.wait_for(future, timeout=max(remaining_s, 0.0))
            except TimeoutError:
                return _Outcome(
                    None,
                    f"completion event {step.completion_event!r} of step {step.name!r} was not "
                    f"delivered within {step.timeout_s:g} s",
                )
            finally:
                self._waiter = None
        return _Outcome({**action_result, **payload})

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
                await self._succeed(index, attempt, started_at, outcome.result)
                return
            delay_s = await self._forward_failed(index, attempt, started_at, outcome)
            if delay_s is None:
                return
            self.env.metrics.retries += 1
            self.env.listeners.on_retry(self.saga.saga_name, step.name, FORWARD)
            await self.env.sleep(delay_s)
            attempt += 1

    async def _succeed(
        self, index: int, attempt: int, started_at: float, result: dict[str, Any]
    ) -> None:
        now = self.env.clock()
        last = index == len(self.definition.steps) - 1
        changes: dict[str, Any] = {
            "state": SagaState.COMPLETED if last else SagaState.RUNNING,
            "step_index": index + 1,
            "steps_completed": self.saga.steps_completed + 1,
            "data": {**self.saga.data, **result},
        }
        if last:
            changes["ended_at"] = now
        entry = self._entry(
            index, FORWARD, "succeeded", attempt, started_at, ended_at=now, result=result
        )
        await self._persist(step=entry, **changes)
        self.history.forward_results[index] = result
        self._early.pop(index, None)
        self.release_acks(True)
        self._step_finished(entry, ok=True)
        if last:
            self.env.metrics.completed += 1
            self._finished()
            self._log(logging.INFO, "saga completed")

    async def _forward_failed(
        self, index: int, attempt: int, started_at: float, outcome: _Outcome
    ) -> float | None:
        """Persist a failed attempt; return the delay before the next one, or ``None`` when
        the failure is final (the saga is then compensating or stalled)."""
        step = self.definition.steps[index]
        now = self.env.clock()
        failed = self._entry(
            index, FORWARD, "failed", attempt, started_at, ended_at=now, error=outcome.error
        )
        delay_s = step.retry.delay_s(attempt, self.env.rng)
        past_deadline = now + delay_s >= self.saga.deadline_at
        pivot = self.definition.pivot_index
        after_pivot = pivot is not None and index > pivot
        exhausted = not after_pivot and attempt >= step.retry.max_attempts
        self._log(
            logging.WARNING,
            "step attempt failed",
            step=step.name,
            attempt=attempt,
            error=outcome.error,
        )
        if outcome.retriable and not exhausted and not past_deadline:
            await self._persist(step=failed)
            self._step_finished(failed, ok=False)
            return delay_s
        if not outcome.retriable:
            why = "business refusal"
        elif exhausted:
            why = f"{attempt} attempts exhausted"
        else:
            why = "saga deadline passed"
        await self._fail_for_good(index, failed, f"{why}: {outcome.error}")
        return None

    async def _fail_for_good(self, index: int, failed: StepLogEntry | None, why: str) -> None:
        step = self.definition.steps[index]
        pivot = self.definition.pivot_index
        error = f"step {step.name!r} failed ({why})"
        now = self.env.clock()
        if pivot is not None and index > pivot:
            await self._persist(step=failed, state=SagaState.STALLED, ended_at=now, error=error)
            if failed is not None:
                self._step_finished(failed, ok=False)
            self.env.metrics.stalled += 1
            self._finished()
            self._log(logging.ERROR, "saga stalled after its pivot", step=step.name, error=error)
            self.env.alert(
                Alert(
                    kind="stalled",
                    saga_id=self.saga.saga_id,
                    saga_name=self.saga.saga_name,
                    step_name=step.name,
                    error=error,
                    correlation_id=self.saga.correlation_id,
                    at=now,
                )
            )
            return
        await self._persist(step=failed, state=SagaState.COMPENSATING, error=error)
        if failed is not None:
            self._step_finished(failed, ok=False)
        self._log(logging.WARNING, "saga compensating", step=step.name, error=error)

    # --- compensation ---------------------------------------------------------------

    def compensation_plan(self) -> list[int]:
        """Succeeded, compensatable, not yet compensated steps, latest first. Parked ones
        are included only when redriven (or when a redrive attempt was in flight)."""
        plan = []
        for index in sorted(self.history.forward_results, reverse=True):
            if self.definition.steps[index].compensation is None:
                continue
            if index in self.history.compensated:
                continue
            if index in self.parked and index not in self.redrive:
                last = self.history.last_compensation.get(index)
                if last is None or last.status != "started":
                    continue
            plan.append(index)
        return plan

    async def _compensate(self) -> None:
        for index in self.compensation_plan():
            await self._compensate_step(index)
        now = self.env.clock()
        if self.parked:
            steps = ", ".join(repr(self.definition.steps[i].name) for i in sorted(self.parked))
            await self._persist(state=SagaState.COMPENSATION_FAILED, ended_at=now)
            self.env.metrics.compensation_failed += 1
            self._finished()
            self._log(logging.ERROR, f"saga compensation failed; dead-lettered: {steps}")
        else:
            await self._persist(state=SagaState.COMPENSATED, ended_at=now)
            self.env.metrics.compensated += 1
            self._finished()
            self._log(logging.INFO, "saga compensated")

    async def _compensate_step(self, index: int) -> None:
        step = self.definition.steps[index]
        compensation = step.compensation
        assert compensation is not None
        policy = self.definition.compensation_retry
        letter = self.parked.get(index)
        budget_end = (letter.attempts if letter is not None else 0) + policy.max_attempts
        last = self.history.last_compensation.get(index)
        attempt, replay = 1, False
        if last is not None and last.status == "started":
            attempt, replay = last.attempt, True
        elif last is not None:
            attempt = last.attempt + 1
        first = attempt
        while True:
            if replay and last is not None:
                started_at = last.started_at
            else:
                started_at = self.env.clock()
                await self._persist(
                    step=self._entry(index, COMPENSATION, "started", attempt, started_at),
                    step_index=index,
                )
            replay = False
            outcome = await self._attempt(
                index, COMPENSATION, attempt, compensation, self.history.forward_results[index]
            )
            now = self.env.clock()
            if outcome.result is not None:
                redriven = None
                if letter is not None and letter.id is not None:
                    redriven = DeadLetterUpdate(letter.id, "redriven", now, attempts=attempt)
                entry = self._entry(
                    index, COMPENSATION, "succeeded", attempt, started_at, ended_at=now,
                    result=outcome.result,
                )  # fmt: skip
                await self._persist(step=entry, dead_letter_update=redriven)
                self.history.compensated.add(index)
                self.parked.pop(index, None)
                self.env.listeners.on_compensation(self.saga.saga_name, step.name)
                return
            failed = self._entry(
                index, COMPENSATION, "failed", attempt, started_at, ended_at=now,
                error=outcome.error,
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
        if letter is not None and letter.id is not None:
            await self._persist(
                step=failed,
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
                    "step_result": self.history.forward_results[index],
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
            ids = await self._persist(step=failed, dead_letter=letter)
            letter = replace(letter, id=ids.dead_letter_id)
        self.parked[index] = letter
        self.env.metrics.dead_lettered += 1
        self.env.listeners.on_dead_letter(self.saga.saga_name, step.name, letter.id)
        self._log(
            logging.ERROR,
            "compensation dead-lettered",
            step=step.name,
            attempts=attempt,
            dead_letter_id=letter.id,
            error=error,
        )
        self.env.alert(
            Alert(
                kind="compensation_failed",
                saga_id=self.saga.saga_id,
                saga_name=self.saga.saga_name,
                step_name=step.name,
                error=(
                    f"compensation of step {step.name!r} failed after {attempt} attempts: {error}"
                ),
                correlation_id=self.saga.correlation_id,
                at=now,
                dead_letter_id=letter.id,
            )
        )
