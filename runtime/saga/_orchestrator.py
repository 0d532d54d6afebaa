"""The durable saga orchestrator: starts, resumes, completes and redrives sagas."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sagacrew.runtime.messages import new_id
from sagacrew.runtime.saga._commit import transition_committer
from sagacrew.runtime.saga._definition import Dispatch, SagaDefinition
from sagacrew.runtime.saga._env import Env, Listeners, SagaListener
from sagacrew.runtime.saga._errors import (
    SagaDefinitionError,
    SagaError,
    SagaPaused,
    UnknownSagaError,
)
from sagacrew.runtime.saga._execution import SagaRun
from sagacrew.runtime.saga._faults import FaultInjector, SeededFaults
from sagacrew.runtime.saga._history import History
from sagacrew.runtime.saga._late import GIVEN_UP_STATES, late_step
from sagacrew.runtime.saga._restarts import MAX_DEFECT_RESTARTS, DriverRestarts
from sagacrew.runtime.saga._types import (
    ACTIVE_STATES,
    Alert,
    SagaMetrics,
    SagaResult,
    SagaState,
    SagaStatus,
)
from sagacrew.runtime.store import (
    DeadLetter,
    SagaExecution,
    SagaTransition,
    SagaUpdate,
    Store,
    StoreUnavailable,
)

logger = logging.getLogger("sagacrew.runtime.saga")


@dataclass
class _Live:
    run: SagaRun
    task: asyncio.Task[None]


def _result_of(saga: SagaExecution) -> SagaResult:
    return SagaResult(
        saga_id=saga.saga_id,
        saga_name=saga.saga_name,
        state=SagaState(saga.state),
        steps_completed=saga.steps_completed,
        steps_total=saga.steps_total,
        data=dict(saga.data),
        error=saga.error,
    )


class SagaOrchestrator:
    """Runs sagas durably over a :class:`Store` on one asyncio loop.

    Every transition is persisted before it is acted on (see ``_execution``), so after a
    crash ``recover()`` resumes every saga that was not terminal. ``dispatch`` sends the
    steps' commands; ``faults`` (optional) injects failures before each attempt;
    ``clock`` (seconds since the epoch, default ``time.time``) stamps the tables and
    measures deadlines; ``sleep`` (default ``asyncio.sleep``) waits between retries;
    ``rng`` (default a fresh ``random.Random()``) draws the jitter; ``on_alert`` is called
    when an operator must act (a dead-lettered compensation, a stalled saga).

    ``metrics`` holds simple counters: started, completed, compensated,
    compensation_failed, stalled, retries, dead_lettered. ``listeners`` (default none)
    are told of each transition once it is persisted (see :class:`SagaListener`; e.g.
    :class:`sagacrew.runtime.metrics.RuntimeMetrics` exports them to Prometheus).

    Transitions of concurrent sagas persisted in the same loop iteration share one
    transaction (group commit); each saga still waits for its own commit before acting.
    """

    def __init__(
        self,
        store: Store,
        definitions: Sequence[SagaDefinition],
        *,
        dispatch: Dispatch,
        faults: FaultInjector | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
        on_alert: Callable[[Alert], None] | None = None,
        listeners: Sequence[SagaListener] = (),
    ) -> None:
        self._definitions: dict[str, SagaDefinition] = {}
        for definition in definitions:
            if definition.name in self._definitions:
                raise SagaDefinitionError(
                    f"two saga definitions are named {definition.name!r}; names must be unique"
                )
            self._definitions[definition.name] = definition
        if isinstance(faults, SeededFaults):
            faults.bind(list(definitions))
        self.store = store
        self.metrics = SagaMetrics()
        self._on_alert = on_alert
        self._committer = transition_committer(store)
        self._env = Env(
            store=store,
            commit=self._committer.apply,
            dispatch=dispatch,
            faults=faults,
            clock=clock,
            sleep=sleep,
            rng=rng if rng is not None else random.Random(),
            metrics=self.metrics,
            alert=self._alert,
            listeners=Listeners(tuple(listeners)),
        )
        self._live: dict[str, _Live] = {}
        self._by_correlation: dict[str, set[str]] = {}
        self._waiters: dict[str, list[asyncio.Future[SagaResult]]] = {}
        self._paused = False
        self._closed = False
        self._restarts = DriverRestarts(self._restart)
        self._given_up: dict[str, str] = {}

    # --- properties -----------------------------------------------------------------

    @property
    def definitions(self) -> Mapping[str, SagaDefinition]:
        """The registered saga definitions by name."""
        return dict(self._definitions)

    @property
    def paused(self) -> bool:
        """True while new sagas are refused."""
        return self._paused

    @property
    def in_flight(self) -> int:
        """Sagas being driven by this orchestrator right now."""
        return len(self._live)

    # --- starting and waiting -------------------------------------------------------

    async def start(
        self,
        saga_name: str,
        data: Mapping[str, Any],
        *,
        saga_id: str | None = None,
        correlation_id: str | None = None,
        causation_id: str | None = None,
    ) -> str:
        """Persist a new saga (state running) and schedule it; return its id.

        ``saga_id`` defaults to a fresh id; starting an id that already exists does
        nothing and returns it (a redelivered start command starts nothing twice; an
        unfinished saga from a previous process is resumed by ``recover()``, not here).
        ``correlation_id`` defaults to a fresh id and ``causation_id`` to the
        correlation id (a saga that opens a flow is its own cause).
        Raises :class:`SagaPaused` while paused, :class:`UnknownSagaError` for an
        unknown name.
        """
        if self._closed:
            raise SagaError("the orchestrator is closed; create a new one to start sagas")
        if self._paused:
            raise SagaPaused(f"new sagas are paused; call resume() before starting {saga_name!r}")
        definition = self._definition(saga_name)
        saga_id = saga_id or new_id()
        existing = self.store.get_saga(saga_id)
        if existing is not None:
            if existing.saga_name != saga_name:
                raise SagaError(
                    f"saga id {saga_id!r} already belongs to a {existing.saga_name!r} saga; "
                    "use a fresh saga_id"
                )
            return saga_id
        correlation_id = correlation_id or new_id()
        now = self._env.clock()
        saga = SagaExecution(
            saga_id=saga_id,
            saga_name=saga_name,
            state=SagaState.RUNNING,
            step_index=0,
            steps_total=len(definition.steps),
            steps_completed=0,
            pivot_index=definition.pivot_index,
            data=dict(data),
            correlation_id=correlation_id,
            causation_id=causation_id or correlation_id,
            started_at=now,
            updated_at=now,
            deadline_at=now + definition.deadline_s,
        )
        await self._committer.apply(SagaTransition(create=saga))
        self.metrics.started += 1
        self._env.listeners.on_saga_started(saga_name, saga_id)
        self._spawn(saga, History(), {})
        return saga_id

    async def run(
        self,
        saga_name: str,
        data: Mapping[str, Any],
        *,
        saga_id: str | None = None,
        correlation_id: str | None = None,
        causation_id: str | None = None,
    ) -> SagaResult:
        """Start a saga and wait until it is terminal."""
        started = await self.start(
            saga_name,
            data,
            saga_id=saga_id,
            correlation_id=correlation_id,
            causation_id=causation_id,
        )
        return await self.wait(started)

    async def wait(self, saga_id: str) -> SagaResult:
        """The saga's result once it is terminal (immediately if it already is).

        Waits on the saga's completion, without polling. A saga that is neither
        terminal nor running here (e.g. before ``recover()``) is waited for until a
        recovery or redrive finishes it.
        """
        if saga_id in self._given_up:
            raise SagaError(self._given_up[saga_id])
        if saga_id not in self._live:
            saga = self.store.get_saga(saga_id)
            if saga is None:
                raise UnknownSagaError(f"no saga {saga_id!r} in the store; check the saga id")
            if SagaState(saga.state).terminal:
                return _result_of(saga)
        future: asyncio.Future[SagaResult] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(saga_id, []).append(future)
        return await future

    async def recover(self) -> list[str]:
        """Resume every non-terminal saga found in the store; return their ids.

        Sagas already running here are left alone. Raises
        :class:`SagaDefinitionError` (and resumes nothing) when a saga's definition is
        missing.
        """
        active = self.store.list_sagas([state.value for state in ACTIVE_STATES])
        missing = sorted({saga.saga_name for saga in active} - set(self._definitions))
        if missing:
            raise SagaDefinitionError(
                f"the store holds unfinished sagas of unknown types {missing}; pass their "
                "definitions to SagaOrchestrator before recover()"
            )
        resumed = []
        for saga in active:
            if saga.saga_id not in self._live:
                self._resume(saga)
                resumed.append(saga.saga_id)
        if resumed:
            logger.info("recovering %d sagas", len(resumed), extra={"sagas": resumed})
        return resumed

    # --- completion events ----------------------------------------------------------

    async def deliver(
        self, event_name: str, correlation_id: str, payload: Mapping[str, Any]
    ) -> bool:
        """Deliver a completion event to the saga(s) with ``correlation_id`` whose current
        step waits for ``event_name``; return False when nothing waits for it.

        A waiting step's success (payload merged into its result) is persisted before
        this returns True. An event that arrives while the step's action is still
        running is kept for it. Sagas waiting in the store but not running here (after
        a restart) are resumed.

        A late completion, for a step the saga already gave up (it is compensating,
        compensated or compensation_failed), makes that step's compensation run again
        with its own key (see ``_late``): the late work is undone exactly once. This
        waits for the saga's compensation in progress, then for the late compensation;
        it neither raises nor counts as accepted (nothing waits for the event).
        """
        accepted = False
        acks: list[asyncio.Future[bool]] = []
        for saga_id in sorted(self._by_correlation.get(correlation_id, ())):
            run = self._live[saga_id].run
            if run.accepts(event_name):
                ack = run.offer(payload)
                if ack is None:
                    accepted = True
                else:
                    acks.append(ack)
        for saga in self.store.list_sagas([SagaState.WAITING.value], correlation_id=correlation_id):
            if saga.saga_id in self._live or saga.saga_name not in self._definitions:
                continue
            steps = self._definitions[saga.saga_name].steps
            if saga.step_index >= len(steps) or steps[saga.step_index].completion_event != (
                event_name
            ):
                continue
            run = self._resume(saga)
            ack = run.offer(payload)
            if ack is not None:
                acks.append(ack)
        for ack in acks:
            accepted = await ack or accepted
        given_up = [state.value for state in GIVEN_UP_STATES]
        for saga in self.store.list_sagas(given_up, correlation_id=correlation_id):
            if saga.saga_name in self._definitions:
                await self._undo_late(saga.saga_id, event_name)
        return accepted

    # --- status and dead letters ----------------------------------------------------

    def status(self, saga_id: str) -> SagaStatus:
        """The saga's progress, e.g. "2 of 5 steps complete", and its current step."""
        saga = self.store.get_saga(saga_id)
        if saga is None:
            raise UnknownSagaError(f"no saga {saga_id!r} in the store; check the saga id")
        state = SagaState(saga.state)
        current = None
        definition = self._definitions.get(saga.saga_name)
        if (
            not state.terminal
            and definition is not None
            and saga.step_index < len(definition.steps)
        ):
            current = definition.steps[saga.step_index].name
        return SagaStatus(
            saga_id=saga.saga_id,
            saga_name=saga.saga_name,
            state=state,
            steps_completed=saga.steps_completed,
            steps_total=saga.steps_total,
            summary=f"{saga.steps_completed} of {saga.steps_total} steps complete",
            current_step=current,
        )

    def list_dead_letters(self, status: str | None = "parked") -> list[DeadLetter]:
        """Dead-lettered compensations (``status`` parked by default; ``None``: all)."""
        return [
            letter
            for letter in self.store.list_dead_letters(status=status)
            if letter.kind == "compensation"
        ]

    async def redrive(self, dead_letter_id: int) -> SagaResult:
        """Re-run a parked compensation, then finish compensating; return the result.

        Attempt numbering continues (new idempotency keys) with the saga's
        ``compensation_retry`` budget. On success the dead letter becomes ``redriven``,
        and the saga ends ``compensated`` when no compensation remains parked; on
        failure the dead letter stays ``parked`` (attempts and error updated).
        """
        if self._closed:
            raise SagaError("the orchestrator is closed; redrive on a started system")
        letter = self.store.get_dead_letter(dead_letter_id)
        if letter is None:
            raise UnknownSagaError(
                f"no dead letter {dead_letter_id}; list them with list_dead_letters()"
            )
        if letter.kind != "compensation" or letter.saga_id is None or letter.step_index is None:
            raise SagaError(
                f"dead letter {dead_letter_id} is a {letter.kind!r} dead letter, not a saga "
                "compensation; redrive it where it was produced"
            )
        if letter.status != "parked":
            raise SagaError(
                f"dead letter {dead_letter_id} is {letter.status!r}, not parked; "
                "there is nothing to redrive"
            )
        if letter.saga_id in self._live:
            raise SagaError(
                f"saga {letter.saga_id!r} is still running; wait(saga_id) for it, then redrive"
            )
        saga = self.store.get_saga(letter.saga_id)
        if saga is None:
            raise UnknownSagaError(f"dead letter {dead_letter_id} names unknown saga")
        self._definition(saga.saga_name)
        now = self._env.clock()
        await self._committer.apply(
            SagaTransition(
                update=SagaUpdate(
                    saga.saga_id, now, state=SagaState.COMPENSATING.value, ended_at=None
                )
            )
        )
        saga = self.store.get_saga(saga.saga_id)
        assert saga is not None
        self._resume(saga, redrive=frozenset({letter.step_index}))
        return await self.wait(saga.saga_id)

    # --- operations -----------------------------------------------------------------

    def pause(self) -> None:
        """Refuse new sagas (``start`` raises :class:`SagaPaused`); running ones go on."""
        self._paused = True

    def resume(self) -> None:
        """Accept new sagas again."""
        self._paused = False

    async def drain(self, timeout_s: float) -> int:
        """Wait up to ``timeout_s`` for the sagas in flight to finish; return how many are
        still in flight (0: drained). Usually called after ``pause()``."""
        tasks = [live.task for live in self._live.values()]
        if not tasks:
            return 0
        await asyncio.wait(tasks, timeout=timeout_s)
        return len(self._live)

    @property
    def closed(self) -> bool:
        """True after :meth:`close`: the orchestrator starts and redrives nothing more."""
        return self._closed

    async def close(self) -> None:
        """Stop driving sagas without marking them: they resume on ``recover()``."""
        self._closed = True
        await self._restarts.close()
        tasks = [live.task for live in self._live.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._committer.flush()
        for futures in self._waiters.values():
            for future in futures:
                future.cancel()
        self._waiters.clear()

    # --- internals ------------------------------------------------------------------

    def _definition(self, saga_name: str) -> SagaDefinition:
        try:
            return self._definitions[saga_name]
        except KeyError:
            raise UnknownSagaError(
                f"unknown saga {saga_name!r}; known: {sorted(self._definitions)}"
            ) from None

    async def raise_alert(self, alert: Alert) -> None:
        """Raise an alert that is not part of a saga transition (e.g. a quarantined
        stream): it is handed to ``on_alert`` like the orchestrator's own alerts."""
        self._alert(alert)

    def _alert(self, alert: Alert) -> None:
        if self._on_alert is None:
            return
        try:
            self._on_alert(alert)
        except Exception:
            logger.exception("on_alert raised", extra={"saga_id": alert.saga_id})

    async def _undo_late(self, saga_id: str, event_name: str) -> None:
        """Run the late compensation of the saga's step completing on ``event_name``, if
        it has one, once the saga's run here has ended (a compensating saga not running
        here is resumed first); see ``_late``."""
        if self._late_step(saga_id, event_name) is None:
            return
        resumed = False
        while not self._closed:
            live = self._live.get(saga_id)
            if live is None:
                saga = self.store.get_saga(saga_id)
                if resumed or saga is None or saga.state != SagaState.COMPENSATING:
                    break
                self._resume(saga)
                live, resumed = self._live[saga_id], True
            await asyncio.wait([live.task])
        saga = self.store.get_saga(saga_id)
        if self._closed or saga is None:
            return
        if saga.state not in (SagaState.COMPENSATED, SagaState.COMPENSATION_FAILED):
            return
        index = self._late_step(saga_id, event_name)
        if index is not None:
            self._resume(saga, late=frozenset({index}))
            await asyncio.wait([self._live[saga_id].task])

    def _late_step(self, saga_id: str, event_name: str) -> int | None:
        saga = self.store.get_saga(saga_id)
        if saga is None or saga.saga_name not in self._definitions:
            return None
        history = History.from_log(self.store.step_log(saga_id))
        return late_step(self._definitions[saga.saga_name], history, event_name)

    def _resume(
        self,
        saga: SagaExecution,
        redrive: frozenset[int] = frozenset(),
        late: frozenset[int] = frozenset(),
    ) -> SagaRun:
        history = History.from_log(self.store.step_log(saga.saga_id))
        parked = {
            letter.step_index: letter
            for letter in self.store.list_dead_letters(status="parked", saga_id=saga.saga_id)
            if letter.kind == "compensation" and letter.step_index is not None
        }
        return self._spawn(saga, history, parked, redrive, late)

    def _spawn(
        self,
        saga: SagaExecution,
        history: History,
        parked: dict[int, DeadLetter],
        redrive: frozenset[int] = frozenset(),
        late: frozenset[int] = frozenset(),
    ) -> SagaRun:
        definition = self._definitions[saga.saga_name]
        run = SagaRun(self._env, definition, saga, history, parked, redrive, late)
        task = asyncio.get_running_loop().create_task(
            self._drive(run), name=f"saga:{saga.saga_name}:{saga.saga_id}"
        )
        self._live[saga.saga_id] = _Live(run, task)
        self._given_up.pop(saga.saga_id, None)
        self._by_correlation.setdefault(saga.correlation_id, set()).add(saga.saga_id)
        return run

    async def _drive(self, run: SagaRun) -> None:
        saga_id = run.saga.saga_id
        try:
            result = await run.drive()
        except Exception as exc:
            self._forget(run)
            self._driver_failed(run, exc)
            return
        except asyncio.CancelledError:
            self._forget(run)
            raise
        self._forget(run)
        self._restarts.succeeded(saga_id)
        for future in self._waiters.pop(saga_id, []):
            if not future.done():
                future.set_result(result)

    def _driver_failed(self, run: SagaRun, exc: Exception) -> None:
        """Restart the saga after a backoff (see ``_restarts``); once its budget for
        defects is spent, give it up: waiters get a :class:`SagaError` and an operator a
        ``driver_failed`` alert (the saga resumes on the next ``recover()``)."""
        saga = run.saga
        ids = {"saga_id": saga.saga_id, "correlation_id": saga.correlation_id}
        if self._closed:
            return
        if self._restarts.failed(saga.saga_id, exc):
            if isinstance(exc, StoreUnavailable):
                logger.warning("store unavailable; saga paused: %s", exc, extra=ids)
            else:
                logger.exception("saga driver failed; restarting it after a backoff", extra=ids)
            return
        logger.exception("saga driver kept failing; given up until recover()", extra=ids)
        error = SagaError(
            f"saga {saga.saga_id!r} stopped: its driver failed {MAX_DEFECT_RESTARTS + 1} "
            f"times, last with {type(exc).__name__}: {exc}; fix the cause, then restart the "
            "system (recover() resumes it)"
        )
        self._given_up[saga.saga_id] = str(error)
        for future in self._waiters.pop(saga.saga_id, []):
            if not future.done():
                future.set_exception(error)
        definition = self._definitions[saga.saga_name]
        index = min(run.saga.step_index, len(definition.steps) - 1)
        self._alert(
            Alert(
                kind="driver_failed",
                saga_id=saga.saga_id,
                saga_name=saga.saga_name,
                step_name=definition.steps[index].name if definition.steps else "",
                error=str(error),
                correlation_id=saga.correlation_id,
                at=self._env.clock(),
            )
        )

    async def _restart(self, saga_id: str) -> None:
        """Resume a saga whose driver failed, from the store (see :meth:`_driver_failed`)."""
        if self._closed or saga_id in self._live:
            return
        saga = self.store.get_saga(saga_id)
        if saga is None or SagaState(saga.state).terminal:
            for future in self._waiters.pop(saga_id, []):
                if future.done():
                    continue
                if saga is None:
                    future.set_exception(UnknownSagaError(f"saga {saga_id!r} is gone"))
                else:
                    future.set_result(_result_of(saga))
            return
        logger.info("restarting saga after its driver failed", extra={"saga_id": saga_id})
        self._resume(saga)

    def _forget(self, run: SagaRun) -> None:
        saga_id = run.saga.saga_id
        self._live.pop(saga_id, None)
        ids = self._by_correlation.get(run.saga.correlation_id)
        if ids is not None:
            ids.discard(saga_id)
            if not ids:
                del self._by_correlation[run.saga.correlation_id]
