"""The store interface: one abstract class, implemented by the SQLite and PostgreSQL backends.

Callers depend on :class:`Store` only; :func:`sagacrew.runtime.store.open_store` picks a
backend from a URL. All methods are synchronous and short: the runtime calls them from
its asyncio loop.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

from sagacrew.runtime.store._records import (
    AlertRecord,
    AppendRequest,
    DeadLetter,
    DeadLetterUpdate,
    ExternalCall,
    MessageLogEntry,
    NewEvent,
    RecordedEvent,
    SagaExecution,
    SagaTransition,
    Snapshot,
    StepLogEntry,
    TransitionIds,
)


class Store(ABC):
    """Event store plus the runtime's operational tables (``schema.sql``)."""

    # --- events ---------------------------------------------------------------------

    @abstractmethod
    def append(
        self,
        stream_id: str,
        expected_version: int,
        events: Sequence[NewEvent],
        *,
        idempotency_key: str | None = None,
        result: Mapping[str, Any] | None = None,
    ) -> int:
        """Append ``events`` to a stream atomically and return the stream's new version.

        The stream must be at ``expected_version`` (0 for a new stream), else
        :class:`ConcurrencyError`; the events get versions ``expected_version + 1 ...``.
        With an ``idempotency_key``, the key and ``result`` (default ``{}``) are stored in
        ``processed_commands`` in the same transaction; a key seen before raises
        :class:`DuplicateCommandError` (carrying the first result) and appends nothing.
        ``events`` may be empty (a command that changed nothing but must be remembered).
        """

    @abstractmethod
    def processed_result(self, idempotency_key: str) -> dict[str, Any] | None:
        """The result stored with an already processed command, or ``None``."""

    @abstractmethod
    def read_stream(
        self, stream_id: str, from_version: int = 1, to_version: int | None = None
    ) -> list[RecordedEvent]:
        """The stream's events from ``from_version`` on (up to ``to_version`` included,
        default: the last), in version order.

        A broken row (payload or metadata not a JSON object, a version gap) raises
        :class:`StoreError` naming the stream and version: rows are never skipped.
        """

    @abstractmethod
    def stream_version(self, stream_id: str) -> int:
        """The stream's current version; 0 when it has no events."""

    @abstractmethod
    def read_all(self, from_position: int = 0, limit: int = 1000) -> list[RecordedEvent]:
        """Up to ``limit`` events with ``position > from_position``, in global order."""

    @abstractmethod
    def save_snapshot(self, stream_id: str, version: int, state: Mapping[str, Any]) -> None:
        """Store (or replace) the stream's snapshot as of ``version``."""

    @abstractmethod
    def load_snapshot(self, stream_id: str) -> Snapshot | None:
        """The stream's latest snapshot, or ``None``."""

    # --- operational tables ---------------------------------------------------------

    @abstractmethod
    def log_message(
        self,
        *,
        message_id: str,
        actor: str,
        message_name: str,
        correlation_id: str | None,
        causation_id: str | None,
        received_at: float,
        handled_ms: float,
        outcome: str,
        error: str | None,
    ) -> None:
        """Append one row to ``actor_message_log`` (``outcome``: ok, rejected or error)."""

    def log_messages(self, entries: Sequence[MessageLogEntry]) -> None:
        """Append several ``actor_message_log`` rows (SQL backends: one transaction)."""
        for entry in entries:
            self.log_message(
                message_id=entry.message_id,
                actor=entry.actor,
                message_name=entry.message_name,
                correlation_id=entry.correlation_id,
                causation_id=entry.causation_id,
                received_at=entry.received_at,
                handled_ms=entry.handled_ms,
                outcome=entry.outcome,
                error=entry.error,
            )

    @abstractmethod
    def record_external_call(self, call: ExternalCall) -> bool:
        """Insert an ``external_calls`` row; ``False`` (and no change) if its key exists."""

    @abstractmethod
    def get_external_call(self, idempotency_key: str) -> ExternalCall | None:
        """The external call recorded under ``idempotency_key``, or ``None``."""

    @abstractmethod
    def update_external_call(
        self,
        idempotency_key: str,
        *,
        status: str,
        updated_at: float,
        response: Mapping[str, Any] | None = None,
    ) -> ExternalCall:
        """Set a call's status (and response, when given); :class:`StoreError` if unknown."""

    @abstractmethod
    def list_external_calls(
        self, *, system: str | None = None, status: str | None = None
    ) -> list[ExternalCall]:
        """External calls, optionally filtered by system and status, oldest first."""

    @abstractmethod
    def record_validation(self, **row: Any) -> int:
        """Insert a ``consistency_validations`` row (all columns but ``id``) and return its id.

        ``report`` may be a mapping (stored as JSON) and ``passed`` a bool.
        """

    @abstractmethod
    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run read-only SQL (``?`` placeholders on every backend) and return all rows.

        Writes are refused with :class:`StoreError`. PostgreSQL ``numeric`` values are
        returned as ``float`` so that both backends give the same Python types.
        """

    # --- saga persistence -----------------------------------------------------------

    @abstractmethod
    def apply_saga_transition(self, transition: SagaTransition) -> TransitionIds:
        """Write every part of ``transition`` in one transaction (all or nothing)."""

    def append_many(self, requests: Sequence[AppendRequest]) -> list[int]:
        """Several appends at once (group commit); SQL backends use ONE transaction.

        All or nothing: when any append fails (a stale version, a duplicate key), none is
        written and its error is raised; callers may then append one by one to isolate
        it. This default appends one by one. Returns each stream's new version.
        """
        return [
            self.append(
                r.stream_id,
                r.expected_version,
                r.events,
                idempotency_key=r.idempotency_key,
                result=r.result,
            )
            for r in requests
        ]

    def apply_saga_transitions(self, transitions: Sequence[SagaTransition]) -> list[TransitionIds]:
        """Apply several transitions (group commit); SQL backends use ONE transaction.

        All or nothing: when any transition fails, none is written and the error is raised
        (callers may then apply them one by one to isolate the bad one). This default
        applies them one by one.
        """
        return [self.apply_saga_transition(transition) for transition in transitions]

    @abstractmethod
    def get_saga(self, saga_id: str) -> SagaExecution | None:
        """The saga's ``saga_executions`` row, or ``None``."""

    @abstractmethod
    def list_sagas(
        self, states: Sequence[str] | None = None, *, correlation_id: str | None = None
    ) -> list[SagaExecution]:
        """Sagas in any of ``states`` (all when ``None``), optionally with one
        ``correlation_id``, oldest first."""

    @abstractmethod
    def step_log(self, saga_id: str) -> list[StepLogEntry]:
        """The saga's ``saga_step_log`` rows in transition order (``seq``)."""

    def add_dead_letter(self, dead_letter: DeadLetter) -> int:
        """Insert a dead letter (e.g. an undeliverable message) and return its id."""
        ids = self.apply_saga_transition(SagaTransition(dead_letter=dead_letter))
        assert ids.dead_letter_id is not None
        return ids.dead_letter_id

    def update_dead_letter(self, update: DeadLetterUpdate) -> None:
        """Change a dead letter's status; :class:`StoreError` if it does not exist."""
        self.apply_saga_transition(SagaTransition(dead_letter_update=update))

    @abstractmethod
    def get_dead_letter(self, dead_letter_id: int) -> DeadLetter | None:
        """The dead letter with this id, or ``None``."""

    @abstractmethod
    def list_dead_letters(
        self, *, status: str | None = None, saga_id: str | None = None
    ) -> list[DeadLetter]:
        """Dead letters, optionally filtered by status and saga, oldest first."""

    # --- alerts ---------------------------------------------------------------------

    @abstractmethod
    def record_alert(self, alert: AlertRecord) -> int:
        """Insert an ``alerts`` row in its own transaction and return its id.

        For alerts that are not part of a saga transition (those ride on
        :attr:`SagaTransition.alert`). Recording the same alert again (same kind,
        correlation, saga, step, stream and ``raised_at``) writes nothing and returns the
        id of the row already there. ``id``, ``delivered_at``, ``delivery_attempts`` and
        ``last_delivery_error`` of ``alert`` are ignored (a new row is undelivered).
        """

    @abstractmethod
    def list_alerts(self, *, delivered: bool | None = None, limit: int = 1000) -> list[AlertRecord]:
        """Up to ``limit`` alerts, oldest first: all (``delivered`` ``None``), those every
        sink took (``True``) or those still to deliver (``False``)."""

    @abstractmethod
    def mark_alert_delivered(self, alert_id: int, at: float) -> None:
        """Note that every sink took the alert (``delivered_at``: the first time, ``at``)
        and count the delivery round; :class:`StoreError` if there is no such alert."""

    @abstractmethod
    def note_alert_delivery_failed(self, alert_id: int, error: str) -> None:
        """Count a failed delivery round and keep its ``error``; :class:`StoreError` if
        there is no such alert."""

    # --- health ---------------------------------------------------------------------

    @property
    def available(self) -> bool:
        """False while the last attempt to reach the store failed (no I/O: cheap to ask).

        Backends set it when a call raises :class:`StoreUnavailable` and clear it when a
        call (or :meth:`ping`) reaches the store again."""
        return getattr(self, "_available", True)

    def ping(self) -> None:
        """Reach the store now (reconnecting if it was lost); raises
        :class:`StoreUnavailable` when it cannot be reached. Used by readiness checks."""
        self.query("SELECT 1")

    @abstractmethod
    def close(self) -> None:
        """Close the connection; the store is unusable afterwards."""

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- quarantine: recovery and repair --------------------------------------------

    @abstractmethod
    def list_saga_ids(self, states: Sequence[str]) -> list[str]:
        """Ids of the sagas in any of ``states``, oldest first, without decoding their rows
        (so that one corrupt row can be quarantined while the others are read)."""

    @abstractmethod
    def repair_event(
        self,
        stream_id: str,
        version: int,
        *,
        payload: Mapping[str, Any],
        metadata: Mapping[str, Any] | None = None,
        event_type: str | None = None,
        reason: str = "",
    ) -> RecordedEvent:
        """Replace the payload (and ``metadata``, ``event_type`` when given) of the stored
        event at ``version`` of ``stream_id`` in place, and return the repaired event.

        For a row that cannot be read (see ``sagacrew streams repair``, which checks that
        the row is broken first). Events are never deleted or renumbered: the new metadata
        (``metadata``, default the stored one when it is a JSON object, else ``{}``) gets
        ``repaired``: the original event type, payload and metadata texts, the time and
        ``reason``. A snapshot of the stream at or after ``version`` is dropped (replay
        rebuilds it). :class:`StoreError` when the row does not exist.
        """
