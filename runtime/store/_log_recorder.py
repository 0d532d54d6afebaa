"""The logs role of the store: the actor message log, validation runs and read-only SQL
for the validator's checks."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

from sagacrew.runtime.store._records import (
    MessageLogEntry,
)


class LogRecorder(ABC):
    """Logs and figures: the actor message log, validation records, read-only queries."""

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
        entry = MessageLogEntry(
            message_id,
            actor,
            message_name,
            correlation_id,
            causation_id,
            received_at,
            handled_ms,
            outcome,
            error,
        )
        self.log_messages([entry])

    @abstractmethod
    def log_messages(self, entries: Sequence[MessageLogEntry]) -> None:
        """Append several ``actor_message_log`` rows (SQL backends: one transaction)."""

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

    @abstractmethod
    def actor_errors(self, since: float) -> list[tuple[str, str]]:
        """``(actor, error)`` of every message whose handler raised since ``since``, in
        order."""

    @abstractmethod
    def consistency_history(self, system: str, profile: str) -> list[tuple[float, float]]:
        """``(validated_at, consistency_score)`` of every recorded validation of ``system``
        under ``profile``, oldest first."""
