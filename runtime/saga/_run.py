"""The state of one saga run and what its forward and compensation paths share:
persisting a transition before acting on it (and noting it in the run's history),
step-log entries, logging, running one attempt of a step's action or compensation.

How an attempt's exception is classed (blast radius: only what a retry can fix is
retried):

- :class:`StepFailed` says itself whether it is retriable (a business refusal is not);
  a :class:`PartialFailure` (a refusal after part of the step acted, e.g. an item of a
  ``ForEach``) is not retried either, but is recorded ``failed``, so it is compensated;
- a timeout is retriable, with an unknown outcome (the command may have acted);
- :class:`~sagacrew.runtime.store.StoreUnavailable` is not the step's failure at all:
  it propagates, the saga's driver stops and the orchestrator resumes the saga from the
  store after a backoff (the saga is *paused*, not failed);
- :data:`DEFECTS`, corrupt data and programming errors, fail the step for good
  (``retriable=False``): the same input fails the same way on every attempt;
- anything else (a dropped connection, an actor restarting, ...) is transient: retried.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypedDict, Unpack

from sagacrew.runtime._frozen import record
from sagacrew.runtime.saga._alert_sinks import alert_record
from sagacrew.runtime.saga._definition import SagaDefinition, StepAction, StepContext
from sagacrew.runtime.saga._env import Env, logger
from sagacrew.runtime.saga._errors import StepFailed
from sagacrew.runtime.saga._for_each import PartialFailure
from sagacrew.runtime.saga._history import (
    FAILED,
    FORWARD,
    LATE_COMPENSATION,
    REFUSED,
    UNKNOWN,
    History,
    ResultsBefore,
    idempotency_key,
    transition_id,
)
from sagacrew.runtime.saga._types import Alert, SagaState
from sagacrew.runtime.store import (
    CorruptRecord,
    DeadLetter,
    DeadLetterUpdate,
    Fence,
    SagaExecution,
    SagaTransition,
    SagaUpdate,
    StepLogEntry,
    StoreUnavailable,
    TransitionIds,
    encoded,
)

DEFECTS: tuple[type[Exception], ...] = (
    CorruptRecord,
    TypeError,
    AttributeError,
    NameError,
    KeyError,
    IndexError,
    AssertionError,
    ArithmeticError,
)
"""Exceptions a retry cannot fix: a stored row that cannot be read, and programming errors
(a wrong type or attribute, an unbound name, a missing key or index, a failed assertion,
a division by zero). Not ``LookupError`` as a whole: an actor not found (while its
supervisor restarts it) is transient. Not ``ValueError``: libraries also raise it for
transient conditions (e.g. an operation on a connection closed meanwhile)."""


@record
class _Outcome:
    """One attempt's result, or its error; ``unknown``: it timed out (it may have acted)."""

    result: dict[str, Any] | None
    error: str = ""
    retriable: bool = True
    unknown: bool = False
    defect: bool = False
    """Corrupt data or a programming error (see :data:`DEFECTS`): not retried, and, unlike
    a refusal, the step may have acted before it raised."""
    acted: bool = False
    """A :class:`PartialFailure`: not retried, but part of the step acted (not a refusal)."""
    waited_s: float = 0.0
    """How long the step waited for its completion event: the external system's own work,
    left out of the step's latency."""

    @property
    def ok(self) -> bool:
        return self.result is not None

    @property
    def kind(self) -> str:
        """How a failure is recorded in the step log: refused, unknown or failed."""
        if not self.retriable and not self.defect and not self.acted:
            return REFUSED
        return UNKNOWN if self.unknown else FAILED


def _json_result(raw: Mapping[str, Any] | None, step_name: str) -> dict[str, Any]:
    """The step's result, checked to be JSON by encoding it: once, as its step-log row
    stores it (the writer does not encode it again)."""
    try:
        return encoded(raw or {})
    except (TypeError, ValueError) as exc:
        raise StepFailed(
            f"step {step_name!r} returned a result that is not JSON-serialisable ({exc}); "
            "return only str, int, float, bool, None, lists and dicts",
            retriable=False,
        ) from exc


class EntryFields(TypedDict, total=False):
    """The optional parts of a step-log row (see :func:`step_entry`)."""

    ended_at: float | None
    error: str | None
    result: Mapping[str, Any] | None
    late: bool
    waited_s: float


def step_entry(
    saga: SagaExecution,
    definition: SagaDefinition,
    index: int,
    phase: str,
    status: str,
    attempt: int,
    started_at: float,
    *,
    ended_at: float | None = None,
    error: str | None = None,
    result: Mapping[str, Any] | None = None,
    late: bool = False,
    waited_s: float = 0.0,
) -> StepLogEntry:
    """The step-log row of ``saga``'s step ``index`` (attempt ``attempt`` of ``phase``)
    in ``status``: ``ended_at``, ``error`` and ``result`` when given; a ``late``
    compensation's own key; a latency that leaves out ``waited_s`` (a wait for a
    completion event)."""
    key = idempotency_key(saga.saga_id, index, LATE_COMPENSATION if late else phase, attempt)
    step = definition.steps[index]
    latency_ms = None
    if ended_at is not None:
        latency_ms = max(0.0, (ended_at - started_at - waited_s) * 1000)
    return StepLogEntry(
        saga.saga_id,
        index,
        step.name,
        phase,
        status,
        attempt,
        step.compensation is not None,
        key,
        started_at,
        saga.correlation_id,
        transition_id(key),
        ended_at,
        latency_ms,
        error,
        result,
    )


def _with_changes(saga: SagaExecution, changes: Mapping[str, Any]) -> SagaExecution:
    """``dataclasses.replace(saga, **changes)`` without its per-field introspection (it
    runs at every transition): a copy of the frozen record with ``changes`` (names of
    its fields, as :class:`SagaUpdate` checked) set."""
    copy = object.__new__(SagaExecution)
    copy.__dict__.update(saga.__dict__)
    copy.__dict__.update(changes)
    return copy


_FROM_THE_LOG = frozenset({"data", "step_index", "steps_completed"})
"""What the store reads from a running saga's step log instead of its row."""


def _stored(changes: dict[str, Any], saga: SagaExecution) -> dict[str, Any]:
    """The ``changes`` the saga row takes: its ``data`` only with a change of state (then
    always, whole, with its step), so each step's result is stored once, in its step-log
    row, and a settled saga's row holds all its data; while it runs, not its step either,
    so a step writes its step-log rows and no saga row. The store merges an unsettled saga's
    succeeded steps into what it reads (results into ``data``; a running saga's
    ``step_index`` and ``steps_completed``)."""
    if "state" in changes:
        return {**{name: getattr(saga, name) for name in _FROM_THE_LOG}, **changes}
    left_out = _FROM_THE_LOG if saga.state == SagaState.RUNNING.value else {"data"}
    if left_out & changes.keys():
        return {name: value for name, value in changes.items() if name not in left_out}
    return changes


@dataclass(eq=False, repr=False)
class RunCore:
    """One saga being driven to a terminal state: its state and the helpers both paths use
    (see :class:`~sagacrew.runtime.saga._execution.SagaRun`). With a ``fence`` (a
    worker's lease), every transition is written under it."""

    env: Env
    definition: SagaDefinition
    saga: SagaExecution
    history: History
    parked: dict[int, DeadLetter]
    redrive: frozenset[int] = frozenset()
    late: frozenset[int] = frozenset()
    fence: Fence | None = field(default=None, init=False)
    _reopened_from: SagaState | None = field(default=None, init=False)
    _early: dict[int, dict[str, Any]] = field(default_factory=dict, init=False)
    _waiter: tuple[int, asyncio.Future[dict[str, Any]]] | None = field(default=None, init=False)
    _acks: list[asyncio.Future[bool]] = field(default_factory=list, init=False)

    # --- persistence ----------------------------------------------------------------

    async def _persist(
        self,
        *,
        step: StepLogEntry | None = None,
        next_step: StepLogEntry | None = None,
        dead_letter: DeadLetter | None = None,
        dead_letter_update: DeadLetterUpdate | None = None,
        alert: Alert | None = None,
        **changes: Any,
    ) -> TransitionIds:
        """Write the transition (saga ``changes``, a step-log row, a dead letter, the
        ``alert`` it raises) in one transaction, then note it in the run. The alert is
        not delivered here: hand it to ``env.alert`` once this returns; its
        ``dead_letter_id``, left ``None``, becomes the id of the letter parked here."""
        now = self.env.clock()
        if changes.get("state") == self.saga.state:
            # Unchanged: left out of the UPDATE, so the row's state index is not rewritten
            # at every step. The row holds that state already: this run's saga is the row
            # as last committed (read from the store when the run began, then changed only
            # by this run's commits; a fenced write fails if another worker took over).
            del changes["state"]
        stored = _stored(changes, self.saga)
        update = SagaUpdate(self.saga.saga_id, now, **stored) if stored else None
        ids = await self.env.commit(
            SagaTransition(
                update=update,
                step=step,
                next_step=next_step,
                fence=self.fence,
                dead_letter=dead_letter,
                dead_letter_update=dead_letter_update,
                alert=None if alert is None else alert_record(alert),
            )
        )
        if changes:
            changes["updated_at"] = now
            self.saga = _with_changes(self.saga, changes)
        self._note(step, next_step)
        return ids

    async def _persist_progress(
        self, step: StepLogEntry, next_step: StepLogEntry | None, progress: dict[str, Any]
    ) -> None:
        """:meth:`_persist` of a running saga's step that succeeded, the saga still running
        (every step's success but the last): only the step-log rows are written (a
        running saga's row keeps its step and data as of its last change of state: see
        :func:`_stored`), then the saga takes ``progress`` (its step, steps completed and
        data). What :meth:`_persist` does for it, without working out which changes the
        row takes: it takes none (the step cycle's most frequent transition)."""
        await self.env.commit(SagaTransition(step=step, next_step=next_step, fence=self.fence))
        progress["updated_at"] = step.ended_at
        self.saga = _with_changes(self.saga, progress)
        self._note(step, next_step)

    def _note(self, step: StepLogEntry | None, next_step: StepLogEntry | None) -> None:
        """Note the rows just written in the run's history, and tell the listeners."""
        listeners = self.env.listeners
        for row in (step, next_step):
            if row is not None:
                self.history.note(row)
                if listeners.any:
                    listeners.on_step_logged(self.saga.saga_name, row)

    def _entry(
        self,
        index: int,
        phase: str,
        status: str,
        attempt: int,
        started_at: float,
        **fields: Unpack[EntryFields],
    ) -> StepLogEntry:
        """This saga's step-log row of attempt ``attempt`` of step ``index``'s ``phase``
        (see :func:`step_entry`)."""
        return step_entry(
            self.saga, self.definition, index, phase, status, attempt, started_at, **fields
        )

    def _log(
        self, level: int, message: str, *, row: StepLogEntry | None = None, **fields: Any
    ) -> None:
        """Log ``message`` with the saga's ids, ``fields``, and the step, attempt and error
        of a step-log ``row`` when given (nothing is built at a level that is off)."""
        if not logger.isEnabledFor(level):
            return
        if row is not None:
            fields = {"step": row.step_name, "attempt": row.attempt, "error": row.error, **fields}
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
        if not self.env.listeners.any:
            return
        latency_s = (entry.latency_ms or 0.0) / 1000.0
        self.env.listeners.on_step_finished(self.saga.saga_name, entry.step_name, latency_s, ok)

    async def _attempt(
        self,
        index: int,
        phase: str,
        attempt: int,
        action: StepAction,
        step_result: Mapping[str, Any],
        *,
        late: bool = False,
    ) -> _Outcome:
        """Run one attempt; a late compensation (``late``) carries the command key
        ``f"{saga_id}:{index}:late_compensation"``, distinct from the first undo's."""
        step = self.definition.steps[index]
        key_phase = LATE_COMPENSATION if late else phase
        key = idempotency_key(self.saga.saga_id, index, key_phase, attempt)
        saga = self.saga
        context = StepContext(  # by position: 15 keywords take longer to parse
            saga.saga_id,
            saga.saga_name,
            step.name,
            index,
            phase,
            attempt,
            key,
            saga.correlation_id,
            transition_id(key),
            saga.data,
            step_result,
            self.env.dispatch,
            f"{saga.saga_id}:{index}:{key_phase}",  # command_key
            step.lock if phase == FORWARD else None,
            ResultsBefore(self.history.forward_results, self.definition.steps, index),
        )
        try:
            if self.env.faults is not None:
                self.env.faults.before(
                    self.saga.saga_id, self.saga.saga_name, step.name, phase, attempt
                )
            timeout = self.env.timeouts.after(step.attempt_timeout_s)
            timeout.start()
            try:
                raw = await action(context)
            except BaseException as exc:
                timeout.finish(exc)
                raise
            timeout.finish(None)
            return _Outcome(_json_result(raw, step.name))
        except StepFailed as exc:
            return _Outcome(None, exc.reason, exc.retriable, acted=isinstance(exc, PartialFailure))
        except TimeoutError:
            return _Outcome(
                None,
                f"{phase} of step {step.name!r} timed out after {step.attempt_timeout_s:g} s",
                unknown=True,
            )
        except StoreUnavailable:
            raise  # the saga pauses: its driver stops and is restarted from the store
        except DEFECTS as exc:
            what = "corrupt data" if isinstance(exc, CorruptRecord) else "a defect"
            return _Outcome(
                None,
                f"{phase} of step {step.name!r} raised {type(exc).__name__}: {exc} ({what}: "
                "not retried; fix it, then run the saga again)",
                retriable=False,
                defect=True,
            )
        except Exception as exc:
            return _Outcome(None, f"{type(exc).__name__}: {exc}")
