"""The sagas role of the store: saga executions and their step log, written one transition
at a time (with the dead letters and alerts a transition raises)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TypedDict, Unpack

from sagacrew.runtime.store._records import (
    DeadLetter,
    DeadLetterUpdate,
    SagaExecution,
    SagaSummary,
    SagaTransition,
    StepLogEntry,
    StoredRun,
    TransitionIds,
)


class SagaPageQuery(TypedDict, total=False):
    """Which page of sagas :meth:`SagaRecorder.saga_page` reads: ``states`` (all when
    ``None``), ``saga_name`` (any when ``None``), ``error_contains`` (any error when
    ``None``), ``limit`` (default 50) sagas after skipping ``offset`` (default 0)."""

    states: Sequence[str] | None
    saga_name: str | None
    error_contains: str | None
    limit: int
    offset: int


class SagaRecorder(ABC):
    """Saga executions and step log: transitions in one transaction each, and reads."""

    @abstractmethod
    def apply_saga_transition(self, transition: SagaTransition) -> TransitionIds:
        """Write every part of ``transition`` in one transaction (all or nothing)."""

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
    def list_saga_ids(self, states: Sequence[str]) -> list[str]:
        """Ids of the sagas in any of ``states``, oldest first, without decoding their rows
        (so that one corrupt row can be quarantined while the others are read)."""

    @abstractmethod
    def step_log(self, saga_id: str) -> list[StepLogEntry]:
        """The saga's ``saga_step_log`` rows in transition order (``seq``)."""

    @abstractmethod
    def step_logs(self, states: Sequence[str]) -> dict[str, list[StepLogEntry]]:
        """The step log of every saga in any of ``states``, by saga id, each in transition
        order, read at once (recovery of many sagas)."""

    @abstractmethod
    def stored_runs(self, saga_ids: Sequence[str]) -> dict[str, StoredRun]:
        """The :class:`StoredRun` of each of ``saga_ids`` that exists, by saga id, read
        with three queries whatever their number (a worker's claim of many sagas);
        :class:`CorruptRecord` if a row of any of them cannot be read."""

    def saga_summaries(
        self,
        *,
        states: Sequence[str] | None = None,
        saga_name: str | None = None,
        limit: int = 50,
    ) -> list[SagaSummary]:
        """Up to ``limit`` sagas, newest first, in any of ``states`` (all when ``None``) and
        of ``saga_name`` (any when ``None``), without decoding their data."""
        page = self.saga_page(states=states, saga_name=saga_name, limit=limit)
        return [summary for summary, _, _ in page]

    @abstractmethod
    def saga_page(
        self, **query: Unpack[SagaPageQuery]
    ) -> list[tuple[SagaSummary, float | None, str | None]]:
        """A page of sagas for a list: ``(summary, ended_at, error)`` of up to ``limit``
        sagas, newest first, after skipping ``offset``; filtered as :meth:`saga_summaries`
        and, with ``error_contains``, to sagas whose error holds that text (any case),
        without decoding their data (see :class:`SagaPageQuery`)."""

    @abstractmethod
    def saga_label(self, saga_id: str) -> tuple[str, str] | None:
        """``(saga_name, correlation_id)`` of a saga without decoding its row (for a saga
        whose data may be corrupt), or ``None``."""

    @abstractmethod
    def saga_errors(self, states: Sequence[str]) -> list[tuple[str, str, str | None]]:
        """``(saga_id, state, error)`` of the sagas in any of ``states``, oldest first."""

    @abstractmethod
    def failed_forward_steps(self) -> dict[str, str]:
        """For each saga with a failed forward attempt: the step of its last one."""

    @abstractmethod
    def saga_state_counts(self) -> dict[str, int]:
        """How many sagas are in each state."""

    @abstractmethod
    def live_versions(self) -> dict[tuple[str, str], int]:
        """How many sagas of each ``(saga_name, definition_version)`` still need their
        plan: in flight, or with a compensation parked in the dead-letter queue."""

    @abstractmethod
    def saga_counts(self) -> dict[tuple[str, str], int]:
        """How many sagas of each ``(saga_name, state)`` the store holds."""

    @abstractmethod
    def saga_ids_by_correlation(self) -> dict[str, str]:
        """The saga id of each correlation id that started a saga (the newest when several
        share one), without decoding the sagas' rows."""

    def add_dead_letter(self, dead_letter: DeadLetter) -> int:
        """Insert a dead letter (e.g. an undeliverable message) and return its id."""
        ids = self.apply_saga_transition(SagaTransition(dead_letter=dead_letter))
        assert ids.dead_letter_id is not None
        return ids.dead_letter_id

    def update_dead_letter(self, update: DeadLetterUpdate) -> None:
        """Change a dead letter's status; :class:`StoreError` if it does not exist."""
        self.apply_saga_transition(SagaTransition(dead_letter_update=update))
