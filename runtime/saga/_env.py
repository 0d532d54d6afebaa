"""What every saga run shares: the listener protocol, its fan-out, and the environment."""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sagacrew.runtime.saga._definition import Dispatch
from sagacrew.runtime.saga._faults import FaultInjector
from sagacrew.runtime.saga._timeouts import AttemptTimeouts
from sagacrew.runtime.saga._types import Alert, SagaMetrics, SagaState
from sagacrew.runtime.store import SagaTransition, StepLogEntry, Store, TransitionIds

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
      a second time; a saga reopened for a late compensation only when it ends in
      another state than before (``compensation_failed``: the late one was parked).
    - ``on_step_finished``: a forward attempt of a step ended, ``ok`` (the step
      succeeded) or not (the attempt failed); ``latency_s`` runs from the attempt's start
      to its end, leaving out a wait for a completion event (the external work's).
    - ``on_step_logged``: a step-log row was persisted (an attempt of either phase
      started, succeeded, failed, waits): every id of it (tracing).
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

    def on_step_logged(self, saga_name: str, entry: StepLogEntry) -> None:
        """A step-log row was persisted."""
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

    @property
    def any(self) -> bool:
        """True when there is a listener to tell (runs skip building what none would get)."""
        return bool(self.listeners)

    def _each(self, hook: str, *args: Any) -> None:
        for listener in self.listeners:
            method = getattr(listener, hook, None)
            if method is None:  # a listener written before this hook existed
                continue
            try:
                method(*args)
            except Exception:
                logger.exception("saga listener %r raised in %s", listener, hook)

    def on_saga_started(self, saga_name: str, saga_id: str) -> None:
        self._each("on_saga_started", saga_name, saga_id)

    def on_saga_finished(self, saga_name: str, saga_id: str, state: SagaState) -> None:
        self._each("on_saga_finished", saga_name, saga_id, state)

    def on_step_finished(self, saga_name: str, step_name: str, latency_s: float, ok: bool) -> None:
        self._each("on_step_finished", saga_name, step_name, latency_s, ok)

    def on_step_logged(self, saga_name: str, entry: StepLogEntry) -> None:
        self._each("on_step_logged", saga_name, entry)

    def on_retry(self, saga_name: str, step_name: str, phase: str) -> None:
        self._each("on_retry", saga_name, step_name, phase)

    def on_compensation(self, saga_name: str, step_name: str) -> None:
        self._each("on_compensation", saga_name, step_name)

    def on_dead_letter(self, saga_name: str, step_name: str, dead_letter_id: int | None) -> None:
        self._each("on_dead_letter", saga_name, step_name, dead_letter_id)


@dataclass(frozen=True)
class Env:
    """What every run shares: the store (and its group committer), dispatch, fault
    injector, time, alerts, and the attempts' timeouts."""

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
    timeouts: AttemptTimeouts = field(default_factory=AttemptTimeouts)
