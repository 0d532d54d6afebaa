"""Quarantine: an aggregate instance whose stored events cannot be replayed is refused,
not crashed on.

Blast radius: a corrupt row (bad JSON, a version gap, an event type the aggregate does
not know, a payload its rules cannot apply) is data corruption, a
:class:`~sagacrew.runtime.store.CorruptRecord`: retrying cannot help and restarting the
actor would only replay it again. So :meth:`Quarantine.guard` catches it around the
handling of a command: the instance is *quarantined* (its commands are answered with a
:class:`~sagacrew.runtime.aggregate.Rejection` flagged ``corrupt`` whose reason names the
stream, the version and the operator commands that inspect and repair it), the operator
is alerted once per quarantined stream (``notify``), and every other instance of the
aggregate type keeps working. Nothing escalates to the supervisor.

A quarantined instance is never cached, so each of its commands replays the stream
again: cheap (one read), and the quarantine lifts by itself on the first command after
``sagacrew streams repair`` fixed the row. The quarantine is in memory; a restarted actor
or process finds it again because the replay fails again.

:class:`~sagacrew.runtime.store.StoreUnavailable` is transient, not corruption: the
command is answered with a ``Rejection`` carrying it (``unavailable``), which
:meth:`~sagacrew.runtime.system.SagaSystem.dispatch` raises again so the saga pauses.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sagacrew.runtime.messages import Envelope
from sagacrew.runtime.saga import Alert, SagaOrchestrator
from sagacrew.runtime.store import CorruptRecord, RecordedEvent, StoreUnavailable

if TYPE_CHECKING:
    from sagacrew.runtime.aggregate import Rejection

logger = logging.getLogger("sagacrew.runtime")

APPLY_ERRORS: tuple[type[Exception], ...] = (LookupError, TypeError, ValueError, ArithmeticError)
"""What applying a stored event raises when its payload is not what the aggregate expects
(a missing field, a wrong type): the event is unreadable, a :class:`CorruptRecord`."""


@dataclass(frozen=True)
class Quarantined:
    """An aggregate instance refused because its stream cannot be replayed.

    ``version`` is the stream version of the broken row (``None`` when unknown); ``message``
    and ``fix`` are the :class:`CorruptRecord`'s; ``command`` and ``correlation_id`` name
    the command that found the corruption.
    """

    address: str
    aggregate_id: str
    stream_id: str
    version: int | None
    message: str
    fix: str
    command: str
    correlation_id: str

    def refusal(self, command: str) -> str:
        """Why ``command`` is refused: one line naming the stream, the version and the fix."""
        return f"{command} refused: {self.describe()}"

    def describe(self) -> str:
        """One line: the stream is quarantined, what is broken, and how to repair it."""
        at = "" if self.version is None else f" at version {self.version}"
        return (
            f"stream {self.stream_id} is quarantined{at} ({self.message}); fix: {self.fix}; "
            "its commands are refused until the replay succeeds"
        )


OnQuarantine = Callable[[Quarantined], None]
"""Told once per newly quarantined stream (the system raises a ``stream_quarantined`` alert)."""


@dataclass
class QuarantineAlerts:
    """Raises a ``stream_quarantined`` alert on the orchestrator for each quarantine (an
    :data:`OnQuarantine`), recorded with the stream's id; its error names the stream, the
    version and the fix, and ``step_name`` the command that met the corruption.

    An actor reports from its ``receive``, so the alert is scheduled on the loop (the task
    is kept until done); before the system has an orchestrator it is only logged.
    """

    orchestrator: Callable[[], SagaOrchestrator | None]
    clock: Callable[[], float]
    _pending: set[asyncio.Task[None]] = field(default_factory=set)

    def __call__(self, held: Quarantined) -> None:
        alert = Alert(
            kind="stream_quarantined",
            saga_id="",
            saga_name="",
            step_name=held.command,
            error=held.describe(),
            correlation_id=held.correlation_id,
            at=self.clock(),
        )
        orchestrator = self.orchestrator()
        if orchestrator is None:
            logger.error("alert not raised (the system is not started): %s", alert.error)
            return
        raised = orchestrator.raise_alert(alert, stream_id=held.stream_id)
        task = asyncio.get_running_loop().create_task(raised)
        self._pending.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._pending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("raising a stream_quarantined alert failed: %s", task.exception())


class Quarantine:
    """The quarantined instances of one aggregate actor, by aggregate id.

    ``notify`` (set by :class:`~sagacrew.runtime.system.SagaSystem`; default none) is
    called once when an instance is quarantined, not for each refused command.
    """

    def __init__(self, address: str, identity: str) -> None:
        self.address = address
        self.identity = identity
        self.notify: OnQuarantine | None = None
        self._held: dict[str, Quarantined] = {}

    @property
    def held(self) -> Mapping[str, Quarantined]:
        """The quarantined instances now, by aggregate id."""
        return dict(self._held)

    def release(self, aggregate_id: str) -> None:
        """The instance replayed cleanly (e.g. after a repair): its commands are served."""
        if self._held.pop(aggregate_id, None) is not None:
            logger.warning(
                "stream %s:%s replays cleanly again; quarantine lifted", self.address, aggregate_id
            )

    async def guard(
        self,
        message: Envelope,
        handle: Callable[[Envelope], Awaitable[Any]],
        forget: Callable[[str], None],
    ) -> Any:
        """``handle(message)``, with a corrupt stream or an unavailable store answered by a
        :class:`Rejection` instead of raised; ``forget(aggregate_id)`` drops the actor's
        cached state of an instance whose state is no longer known."""
        from sagacrew.runtime.aggregate import Rejection

        try:
            return await handle(message)
        except CorruptRecord as error:
            aggregate_id = self._aggregate_of(error.stream_id)
            if aggregate_id is None:  # not one of our streams (e.g. a processed command)
                logger.error(
                    "%s: %s refused on corrupt data: %s", self.address, message.name, error
                )
                return Rejection(message.name, f"{message.name} refused: {error}", corrupt=True)
            forget(aggregate_id)
            held = self._hold(aggregate_id, error, message)
            return Rejection(message.name, held.refusal(message.name), corrupt=True)
        except StoreUnavailable as error:
            aggregate_id = message.payload.get(self.identity)
            if aggregate_id is not None:
                forget(str(aggregate_id))  # a write may or may not have happened
            return _unavailable(message, error)

    def _aggregate_of(self, stream_id: str | None) -> str | None:
        prefix = self.address + ":"
        if stream_id is None or not stream_id.startswith(prefix):
            return None
        return stream_id[len(prefix) :]

    def _hold(self, aggregate_id: str, error: CorruptRecord, message: Envelope) -> Quarantined:
        held = Quarantined(
            address=self.address,
            aggregate_id=aggregate_id,
            stream_id=f"{self.address}:{aggregate_id}",
            version=error.version,
            message=error.message,
            fix=error.fix,
            command=message.name,
            correlation_id=message.correlation_id,
        )
        known = self._held.get(aggregate_id)
        self._held[aggregate_id] = held
        if known is not None:
            return held
        logger.error("%s", held.describe())
        if self.notify is not None:
            try:
                self.notify(held)
            except Exception:
                logger.exception("reporting the quarantine of %s failed", held.stream_id)
        return held


def _unavailable(message: Envelope, error: StoreUnavailable) -> Rejection:
    from sagacrew.runtime.aggregate import Rejection

    return Rejection(message.name, f"{message.name} not handled: {error}", unavailable=error)


def unknown_event(event: RecordedEvent, address: str) -> CorruptRecord:
    """A stored event of a type the aggregate does not emit."""
    return CorruptRecord(
        f"stream {event.stream_id} version {event.version}: event type {event.event_type!r} "
        f"is not one {address} emits",
        fix="add the event to the spec (and an upcaster for a renamed event) and regenerate, "
        f"or repair the row with `sagacrew streams repair DIR {event.stream_id} --version "
        f"{event.version} --event-type TYPE --payload JSON`",
        stream_id=event.stream_id,
        version=event.version,
    )


def unappliable(event: RecordedEvent, error: Exception) -> CorruptRecord:
    """A stored event whose payload the aggregate cannot apply (a missing field, ...)."""
    return CorruptRecord(
        f"stream {event.stream_id} version {event.version}: {event.event_type} cannot be "
        f"applied ({type(error).__name__}: {error})",
        fix=f"repair the row with `sagacrew streams repair DIR {event.stream_id} --version "
        f"{event.version} --payload JSON` (inspect it first with `sagacrew streams inspect "
        f"DIR {event.stream_id}`)",
        stream_id=event.stream_id,
        version=event.version,
    )


def unusable_snapshot(stream_id: str, error: Exception) -> None:
    """Log a snapshot that cannot be used: it is derived data, so replay ignores it and
    reads the whole stream (the next snapshot replaces it)."""
    logger.warning(
        "snapshot of %s ignored (%s: %s); replaying the whole stream",
        stream_id,
        type(error).__name__,
        error,
    )
