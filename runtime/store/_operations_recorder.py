"""The operations role of the store: dead letters, the external-calls ledger and alerts."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, NotRequired, TypedDict, Unpack

from sagacrew.runtime._frozen import record
from sagacrew.runtime.store._records import (
    AlertRecord,
    DeadLetter,
    ExternalCall,
)


class ExternalCallChange(TypedDict):
    """What :meth:`OperationsRecorder.update_external_call` sets: ``status`` and
    ``updated_at``; ``response`` and ``resource_id`` when given (not ``None``). With
    ``from_status``, only a call still in that status changes (in the same statement, so
    no other writer comes in between)."""

    status: str
    updated_at: float
    response: NotRequired[Mapping[str, Any] | None]
    resource_id: NotRequired[str | None]
    from_status: NotRequired[str | None]


@record
class ExternalCallUpdate:
    """A change of the external call recorded under ``idempotency_key`` (see
    :meth:`OperationsRecorder.write_external_calls`)."""

    idempotency_key: str
    change: ExternalCallChange


LedgerWrite = ExternalCall | ExternalCallUpdate
"""One write to the external-calls ledger: a call to record, or a change of one."""


class OperationsRecorder(ABC):
    """What operators and gateways keep: dead letters (written with saga transitions, see
    :class:`SagaRecorder`), external calls, alerts."""

    @abstractmethod
    def get_dead_letter(self, dead_letter_id: int) -> DeadLetter | None:
        """The dead letter with this id, or ``None``."""

    @abstractmethod
    def list_dead_letters(
        self, *, status: str | None = None, saga_id: str | None = None
    ) -> list[DeadLetter]:
        """Dead letters, optionally filtered by status and saga, oldest first."""

    @abstractmethod
    def parked_compensations(self) -> int:
        """How many compensations wait in the dead-letter queue (status ``parked``)."""

    @abstractmethod
    def write_external_calls(self, writes: Sequence[LedgerWrite]) -> list[bool | ExternalCall]:
        """Make ``writes`` in one transaction, in order, and answer each as
        :meth:`record_external_call` (an :class:`ExternalCall`) or
        :meth:`update_external_call` (an :class:`ExternalCallUpdate`) would. If one fails
        (an update of an unknown call), none is made."""

    def record_external_call(self, call: ExternalCall) -> bool:
        """Insert an ``external_calls`` row; ``False`` (and no change) if its key exists."""
        return bool(self.write_external_calls([call])[0])

    @abstractmethod
    def get_external_call(self, idempotency_key: str) -> ExternalCall | None:
        """The external call recorded under ``idempotency_key``, or ``None``."""

    def update_external_call(
        self, idempotency_key: str, **change: Unpack[ExternalCallChange]
    ) -> ExternalCall:
        """Set a call's status (and response and resource id, when given) and return the
        call as it now is: unchanged when it is not in ``from_status`` (if given);
        :class:`StoreError` if unknown."""
        now = self.write_external_calls([ExternalCallUpdate(idempotency_key, change)])[0]
        assert isinstance(now, ExternalCall)
        return now

    @abstractmethod
    def list_external_calls(
        self, *, system: str | None = None, status: str | None = None
    ) -> list[ExternalCall]:
        """External calls, optionally filtered by system and status, oldest first."""

    @abstractmethod
    def external_call_key(self, system: str, operation: str, resource_id: str) -> str | None:
        """The idempotency key of the ``operation`` call of ``system`` that made
        ``resource_id``, or ``None``."""

    @abstractmethod
    def compensated_external_calls(self, system: str, operation: str) -> list[tuple[str, str, str]]:
        """``(saga_id, idempotency_key, status)`` of the ``operation`` calls of ``system``
        made by sagas in state ``compensated``, by saga and key."""

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
