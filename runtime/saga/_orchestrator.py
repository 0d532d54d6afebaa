"""The durable saga orchestrator: starts, resumes, completes and redrives sagas."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypedDict, Unpack

from sagacrew.runtime.messages import new_ordered_id
from sagacrew.runtime.saga._alert_sinks import AlertSink, CallbackSink
from sagacrew.runtime.saga._alerts import AlertDelivery
from sagacrew.runtime.saga._commit import transition_committer
from sagacrew.runtime.saga._definition import Dispatch, SagaDefinition
from sagacrew.runtime.saga._driving import _Live, _result_of
from sagacrew.runtime.saga._env import Env, Listeners, SagaListener
from sagacrew.runtime.saga._errors import (
    SagaDefinitionError,
    SagaError,
    SagaPaused,
    UnknownSagaError,
)
from sagacrew.runtime.saga._faults import FaultInjector, SeededFaults
from sagacrew.runtime.saga._history import FORWARD, History
from sagacrew.runtime.saga._leasing import Lease, Leasing
from sagacrew.runtime.saga._restarts import DriverRestarts
from sagacrew.runtime.saga._run import step_entry
from sagacrew.runtime.saga._types import Alert, SagaMetrics, SagaResult, SagaState, SagaStatus
from sagacrew.runtime.store import (
    DeadLetter,
    SagaExecution,
    SagaTransition,
    SagaUpdate,
    Store,
)

logger = logging.getLogger("sagacrew.runtime.saga")


class SagaIds(TypedDict, total=False):
    """The ids :meth:`SagaOrchestrator.run` passes on to :meth:`SagaOrchestrator.start`:
    ``saga_id`` and ``correlation_id`` default to fresh ids, ``causation_id`` to the
    correlation id."""

    saga_id: str | None
    correlation_id: str | None
    causation_id: str | None


class SagaOrchestrator(Leasing):
    """Runs sagas durably over a :class:`Store` on one asyncio loop.

    Every transition is persisted before it is acted on (see ``_execution``), so after a
    crash ``recover()`` resumes every saga that was not terminal. ``dispatch`` sends the
    steps' commands; ``faults`` (optional) injects failures before each attempt;
    ``clock`` (seconds since the epoch, default ``time.time``) stamps the tables and
    measures deadlines; ``sleep`` (default ``asyncio.sleep``) waits between retries;
    ``rng`` (default a fresh ``random.Random()``) draws the jitter; ``on_alert`` is called
    when an operator must act (a dead-lettered compensation, a stalled saga).

    Alerts are durable: each is written to the store's ``alerts`` table (with the saga
    transition that raises it), then delivered to ``on_alert`` and ``alert_sinks``
    (default none; see :class:`AlertSink`) at least once, retried while a sink fails,
    and re-delivered by ``recover()`` after a restart (see ``alert_delivery``).

    ``metrics`` holds simple counters: started, completed, compensated,
    compensation_failed, stalled, retries, dead_lettered. ``listeners`` (default none)
    are told of each transition once it is persisted (see :class:`SagaListener`; e.g.
    :class:`sagacrew.runtime.metrics.RuntimeMetrics` exports them to Prometheus).

    Transitions of concurrent sagas share one transaction (group commit, on the store's
    writer thread); each saga still waits for its own commit before acting. With a
    ``lease`` the orchestrator is one of several workers (see :mod:`._leasing`).
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
        alert_sinks: Sequence[AlertSink] = (),
        lease: Lease | None = None,
        earlier: Sequence[SagaDefinition] = (),
    ) -> None:
        self._lease = lease
        self._definitions: dict[str, SagaDefinition] = {}
        for definition in definitions:
            if definition.name in self._definitions:
                raise SagaDefinitionError(
                    f"two saga definitions are named {definition.name!r}; names must be unique"
                )
            self._definitions[definition.name] = definition
        # Every plan a saga in the store may follow: the current ones (new sagas start on
        # them) and the earlier versions kept for the sagas that started on those.
        self._versions = {
            (definition.name, definition.version): definition
            for definition in (*earlier, *definitions)
            if definition.version
        }
        # What a worker claims: sagas on a version it has ("" is unversioned).
        self._known_versions = ["", *sorted({version for _, version in self._versions})]
        if isinstance(faults, SeededFaults):
            faults.bind(list(definitions))
        self.store = store
        self.metrics = SagaMetrics()
        sinks = [CallbackSink(on_alert)] if on_alert is not None else []
        self.alert_delivery = AlertDelivery(store, [*sinks, *alert_sinks], clock=clock)
        """Delivers the alerts recorded in the store's ``alerts`` table to ``on_alert``
        and ``alert_sinks`` (at least once; re-delivered after a restart by ``recover``)."""
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
        self._restarts = DriverRestarts(self._restart, self._restart_gave_up, sleep=sleep)
        self._given_up: dict[str, str] = {}

    # --- properties -----------------------------------------------------------------

    @property
    def definitions(self) -> Mapping[str, SagaDefinition]:
        """The registered saga definitions by name."""
        return dict(self._definitions)

    @property
    def paused(self) -> bool:
        """True while new sagas are refused (with a lease: by any process in front of the
        workers, the store's switch)."""
        return self.store.cluster_paused() if self._lease is not None else self._paused

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
        correlation id (a saga that opens a flow is its own cause). Fresh ids are
        time-ordered (:func:`~sagacrew.runtime.messages.new_ordered_id`): the rows of
        sagas started together sit together in the store's indexes.
        Raises :class:`SagaPaused` while paused, :class:`UnknownSagaError` for an
        unknown name.
        """
        if self._closed:
            raise SagaError("the orchestrator is closed; create a new one to start sagas")
        if self.paused:
            raise SagaPaused(f"new sagas are paused; call resume() before starting {saga_name!r}")
        definition = self._definition(saga_name)
        existing = None if saga_id is None else self.store.get_saga(saga_id)
        saga_id = saga_id or new_ordered_id()
        if existing is not None:
            if existing.saga_name != saga_name:
                raise SagaError(
                    f"saga id {saga_id!r} already belongs to a {existing.saga_name!r} saga; "
                    "use a fresh saga_id"
                )
            return saga_id
        correlation_id = correlation_id or new_ordered_id()
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
            definition_version=definition.version,
        )
        if self._lease is not None:  # queued: a worker claims it (this one or another)
            await self._committer.apply(SagaTransition(create=saga))
            self._env.listeners.on_saga_started(saga_name, saga_id)
            return saga_id
        # The first step's start goes in the same commit (see ForwardPath._next_start).
        first = step_entry(saga, definition, 0, FORWARD, "started", 1, now)
        await self._committer.apply(SagaTransition(create=saga, step=first))
        self.metrics.started += 1
        self._env.listeners.on_saga_started(saga_name, saga_id)
        history = History()
        history.note(first)
        self._spawn(saga, history, {})
        return saga_id

    async def run(
        self, saga_name: str, data: Mapping[str, Any], **ids: Unpack[SagaIds]
    ) -> SagaResult:
        """Start a saga (see :meth:`start`) and wait until it is terminal."""
        return await self.wait(await self.start(saga_name, data, **ids))

    async def wait(self, saga_id: str) -> SagaResult:
        """The saga's result once it is terminal (immediately if it already is).

        Waits on the saga's completion, without polling. A saga that is neither
        terminal nor running here (e.g. before ``recover()``) is waited for until a
        recovery or redrive finishes it.
        """
        if saga_id in self._given_up:
            raise SagaError(self._given_up[saga_id])
        if self._lease is not None and saga_id not in self._live:
            return await self._wait_stored(saga_id)  # another worker may drive it
        if saga_id not in self._live and not self._restarts.pending(saga_id):
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

        Sagas already running here are left alone. A saga whose rows cannot be read (a
        :class:`~sagacrew.runtime.store.CorruptRecord`: bad JSON in its data, its step log
        or its dead letters) is quarantined, not resumed, and the others are (see
        :meth:`_quarantine_saga`). Raises :class:`SagaDefinitionError` (and resumes
        nothing) when a saga's definition is missing.

        Also re-delivers, in the background, the alerts still undelivered in the store
        (those raised before a restart; a failing sink never fails recover).
        """
        self.alert_delivery.redeliver_pending()
        if self._lease is not None:
            return await self.claim()
        return await self._recover_all()

    # --- status and dead letters ----------------------------------------------------

    def status(self, saga_id: str) -> SagaStatus:
        """The saga's progress, e.g. "2 of 5 steps complete", and its current step."""
        saga = self.store.get_saga(saga_id)
        if saga is None:
            raise UnknownSagaError(f"no saga {saga_id!r} in the store; check the saga id")
        state = SagaState(saga.state)
        current = None
        definition = self._plan_of(saga)
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
        reopen = SagaUpdate(saga.saga_id, now, state=SagaState.COMPENSATING.value, ended_at=None)
        if self._lease is not None:  # a worker claims the saga and runs the compensation
            return await self._redrive_through_workers(reopen, letter)
        await self._committer.apply(SagaTransition(update=reopen))
        saga = self.store.get_saga(saga.saga_id)
        assert saga is not None
        self._resume(saga, redrive=frozenset({letter.step_index}))
        return await self.wait(saga.saga_id)

    # --- operations -----------------------------------------------------------------

    def pause(self) -> None:
        """Refuse new sagas (``start`` raises :class:`SagaPaused`); running ones go on.
        With a lease, every process in front of the workers refuses them."""
        self._paused = True
        if self._lease is not None:
            self._pause_cluster(True)

    def resume(self) -> None:
        """Accept new sagas again (with a lease: in every process)."""
        self._paused = False
        if self._lease is not None:
            self._pause_cluster(False)

    async def drain(self, timeout_s: float) -> int:
        """Wait up to ``timeout_s`` for the sagas in flight to finish; return how many are
        still in flight (0: drained). Usually called after ``pause()``. With a lease, the
        sagas in flight in every worker."""
        if self._lease is not None:
            return await self._drain_cluster(timeout_s)
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
        await self.alert_delivery.close()
        for futures in self._waiters.values():
            for future in futures:
                future.cancel()
        self._waiters.clear()
