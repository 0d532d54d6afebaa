"""What drives sagas under the orchestrator: one task per saga run, resumed from the
store, restarted after a backoff when its driver fails (see ``_restarts``), given up with
an alert after repeated defects, quarantined when its rows cannot be read; plus alerts
and the late completions of steps a saga already gave up (see ``_late``).

:class:`SagaDriving` is the base of :class:`~sagacrew.runtime.saga.SagaOrchestrator`,
which owns the public API and sets every attribute declared here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sagacrew.runtime.saga._alert_sinks import alert_record
from sagacrew.runtime.saga._alerts import AlertDelivery
from sagacrew.runtime.saga._commit import post_to_inbox, release_lease
from sagacrew.runtime.saga._definition import SagaDefinition
from sagacrew.runtime.saga._env import Env
from sagacrew.runtime.saga._errors import SagaDefinitionError, SagaError, UnknownSagaError
from sagacrew.runtime.saga._execution import SagaRun
from sagacrew.runtime.saga._history import History
from sagacrew.runtime.saga._late import GIVEN_UP_STATES, late_step
from sagacrew.runtime.saga._restarts import MAX_DEFECT_RESTARTS, DriverRestarts
from sagacrew.runtime.saga._types import ACTIVE_STATES, Alert, SagaResult, SagaState
from sagacrew.runtime.store import (
    CorruptRecord,
    DeadLetter,
    Fence,
    GroupCommitter,
    LeaseLost,
    SagaExecution,
    SagaTransition,
    Store,
    StoreError,
    StoreUnavailable,
    TransitionIds,
)

if TYPE_CHECKING:
    from sagacrew.runtime.saga._leasing import Lease

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


REDRIVE_REQUESTED = "redrive_requested"  # a dead letter a worker is to redrive


class SagaDriving:
    """The sagas running in this process, and how each run is driven to its end."""

    store: Store
    alert_delivery: AlertDelivery
    _definitions: dict[str, SagaDefinition]
    _versions: dict[tuple[str, str], SagaDefinition]
    _committer: GroupCommitter[SagaTransition, TransitionIds]
    _env: Env
    _live: dict[str, _Live]
    _by_correlation: dict[str, set[str]]
    _waiters: dict[str, list[asyncio.Future[SagaResult]]]
    _closed: bool
    _restarts: DriverRestarts
    _given_up: dict[str, str]
    _lease: Lease | None = None
    writes_refused = 0
    """Saga transitions refused because this worker had lost the saga's lease (fencing)."""

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
        if self._lease is not None and not accepted and not acks:
            await self._to_owner(event_name, correlation_id, payload)
        waiting = [] if self._lease is not None else [SagaState.WAITING.value]  # owners'
        for saga in self.store.list_sagas(waiting, correlation_id=correlation_id):
            plan = self._plan_of(saga)
            if saga.saga_id in self._live or plan is None:
                continue
            steps = plan.steps
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
            if self._plan_of(saga) is not None:
                await self._undo_late(saga.saga_id, event_name)
        return accepted

    async def _to_owner(
        self, event_name: str, correlation_id: str, payload: Mapping[str, Any]
    ) -> None:
        """Hand a completion event for a saga another worker drives to that worker,
        through the store's inbox (see :meth:`Leasing.take_inbox`)."""
        active = [state.value for state in ACTIVE_STATES]
        if self.store.list_sagas(active, correlation_id=correlation_id):
            now = self._env.clock()
            await post_to_inbox(self.store, correlation_id, event_name, payload, now)

    async def _quarantine_saga(self, saga_id: str, error: CorruptRecord) -> None:
        """Quarantine a saga whose rows cannot be read: it is not resumed, ``wait()`` on it
        raises :class:`SagaError` with the reason, and a ``saga_quarantined`` alert is
        raised once (a later ``recover()`` of this orchestrator does not raise it again).
        Once the row is repaired, the next start resumes it."""
        if saga_id in self._given_up:
            return
        reason = f"saga {saga_id!r} is quarantined: {error.message}; fix: {error.fix}"
        self._given_up[saga_id] = reason
        logger.error("%s", reason, extra={"saga_id": saga_id})
        for future in self._waiters.pop(saga_id, []):
            if not future.done():
                future.set_exception(SagaError(reason))
        try:  # the plain columns, for the alert: best effort, they may be broken too
            name, correlation_id = self.store.saga_label(saga_id) or ("", "")
        except StoreError:
            name, correlation_id = "", ""
        await self.raise_alert(
            Alert(
                kind="saga_quarantined",
                saga_id=saga_id,
                saga_name=name,
                step_name="",
                error=reason,
                correlation_id=correlation_id,
                at=self._env.clock(),
            )
        )

    def _plan_of(self, saga: SagaExecution) -> SagaDefinition | None:
        """The definition ``saga`` started on (its version, current or kept; the current
        one for an unversioned saga); ``None`` when this process lacks it."""
        if not saga.definition_version:
            return self._definitions.get(saga.saga_name)
        return self._versions.get((saga.saga_name, saga.definition_version))

    def _definition(self, saga_name: str) -> SagaDefinition:
        try:
            return self._definitions[saga_name]
        except KeyError:
            raise UnknownSagaError(
                f"unknown saga {saga_name!r}; known: {sorted(self._definitions)}"
            ) from None

    async def raise_alert(self, alert: Alert, *, stream_id: str | None = None) -> None:
        """Raise an alert that is not part of a saga transition (e.g. a quarantined
        stream, named by ``stream_id``): record it in the ``alerts`` table (its own
        transaction; a :class:`StoreError` reaches the caller), then deliver it to
        ``on_alert`` and the sinks like the orchestrator's own alerts."""
        await self.alert_delivery.raise_alert(alert_record(alert, stream_id=stream_id))

    def _alert(self, alert: Alert) -> None:
        """Record ``alert`` (a no-op when its saga transition wrote it already) and deliver
        it, in a task: a sink's failure never reaches the saga's driver."""
        self.alert_delivery.raise_soon(alert_record(alert))

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
        plan = None if saga is None else self._plan_of(saga)
        if plan is None:
            return None
        history = History.from_log(self.store.step_log(saga_id))
        return late_step(plan, history, event_name)

    def _resume(
        self,
        saga: SagaExecution,
        redrive: frozenset[int] = frozenset(),
        late: frozenset[int] = frozenset(),
    ) -> SagaRun:
        history = History.from_log(self.store.step_log(saga.saga_id))
        parked, requested = parked_in(self.store.list_dead_letters(saga_id=saga.saga_id))
        return self._spawn(saga, history, parked, redrive | requested, late)

    def _spawn(
        self,
        saga: SagaExecution,
        history: History,
        parked: dict[int, DeadLetter],
        redrive: frozenset[int] = frozenset(),
        late: frozenset[int] = frozenset(),
        *,
        fence: Fence | None = None,
    ) -> SagaRun:
        definition = self._plan_of(saga)
        if definition is None:
            raise SagaDefinitionError(missing_version(saga))
        run = SagaRun(self._env, definition, saga, history, parked, redrive, late)
        run.fence = fence
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
        except LeaseLost as lost:
            self._forget(run)
            self.writes_refused += 1
            logger.warning("%s", lost, extra={"saga_id": saga_id})
            return
        except Exception as exc:
            self._forget(run)
            self._driver_failed(run, exc)
            return
        except asyncio.CancelledError:
            self._forget(run)
            raise
        self._forget(run)
        try:
            if run.fence is not None:
                await release_lease(self.store, run.fence.owner, saga_id)
        finally:  # a stop meanwhile still answers the saga's waiters
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
        self._give_up(saga, exc)

    def _give_up(self, saga: SagaExecution, exc: BaseException) -> None:
        ids = {"saga_id": saga.saga_id, "correlation_id": saga.correlation_id}
        logger.error("saga driver kept failing; given up until recover()", exc_info=exc, extra=ids)
        error = SagaError(
            f"saga {saga.saga_id!r} stopped: its driver failed {MAX_DEFECT_RESTARTS + 1} "
            f"times, last with {type(exc).__name__}: {exc}; fix the cause, then restart the "
            "system (recover() resumes it)"
        )
        self._given_up[saga.saga_id] = str(error)
        for future in self._waiters.pop(saga.saga_id, []):
            if not future.done():
                future.set_exception(error)
        definition = self._plan_of(saga) or self._definition(saga.saga_name)
        index = min(saga.step_index, len(definition.steps) - 1)
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

    async def _restart_gave_up(self, saga_id: str, exc: BaseException) -> None:
        """A restart kept failing on a defect: give the saga up like a failed driver."""
        saga = self.store.get_saga(saga_id)
        if saga is not None and self._plan_of(saga) is not None:
            self._give_up(saga, exc)

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
        """Drop ``run`` from the live sagas (not a newer run of the same saga: a worker
        may drive it again, under a new lease, before the old task has ended)."""
        saga_id = run.saga.saga_id
        live = self._live.get(saga_id)
        if live is None or live.run is not run:
            return
        del self._live[saga_id]
        ids = self._by_correlation.get(run.saga.correlation_id)
        if ids is not None:
            ids.discard(saga_id)
            if not ids:
                del self._by_correlation[run.saga.correlation_id]


def missing_version(saga: SagaExecution) -> str:
    """Why a saga recorded on a version this process lacks is not driven here, and the fix."""
    return (
        f"saga {saga.saga_id!r} started on version {saga.definition_version!r} of "
        f"{saga.saga_name!r}, which this system does not have; regenerate keeping that "
        "version (`sagacrew generate` keeps the versions of sagas in flight; see "
        "`sagacrew versions DIR`), or let a worker that has it drive the saga"
    )


def parked_in(letters: Sequence[DeadLetter]) -> tuple[dict[int, DeadLetter], frozenset[int]]:
    """A saga's parked compensations by step among its dead ``letters``, and those asked
    to redrive through a worker."""
    parked: dict[int, DeadLetter] = {}
    requested = set()
    for letter in letters:
        index = letter.step_index
        if letter.kind == "compensation" and index is not None:
            if letter.status in ("parked", REDRIVE_REQUESTED):
                parked[index] = letter
            if letter.status == REDRIVE_REQUESTED:
                requested.add(index)
    return parked, frozenset(requested)
