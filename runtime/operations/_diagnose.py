"""Diagnosis from the runtime's tables: which sagas, steps and actors an incident concerns."""

from __future__ import annotations

from dataclasses import dataclass

from sagacrew.runtime.saga import SagaState
from sagacrew.runtime.store import DeadLetter, SagaExecution, Store

FAILED_STATES = (
    SagaState.COMPENSATED.value,
    SagaState.COMPENSATION_FAILED.value,
    SagaState.STALLED.value,
)
"""Terminal states other than ``completed``: what lowers the success rate."""


@dataclass(frozen=True)
class FailureGroup:
    """Failed sagas sharing a final state and a failing step (the last forward step that
    failed; ``None`` when the step log has none), with one example."""

    state: str
    step: str | None
    count: int
    example_saga: str
    example_error: str

    def describe(self) -> str:
        at = f"step {self.step!r}" if self.step else "an unknown step"
        what = {
            "compensated": "compensated after",
            "compensation_failed": "left compensation_failed after",
            "stalled": "stalled past the pivot at",
        }.get(self.state, f"ended {self.state} after")
        return (
            f"{self.count} saga(s) {what} {at} failed, e.g. {self.example_saga}: "
            f"{self.example_error or 'no error recorded'}"
        )


def failed_saga_groups(store: Store) -> list[FailureGroup]:
    """Failed sagas grouped by (state, failing step), largest group first."""
    sagas = store.saga_errors(FAILED_STATES)
    if not sagas:
        return []
    failing = store.failed_forward_steps()
    groups: dict[tuple[str, str | None], list[tuple[str, str]]] = {}
    for saga_id, state, error in sagas:
        step = failing.get(saga_id)
        groups.setdefault((state, step), []).append((saga_id, error or ""))
    ordered = sorted(groups.items(), key=lambda item: (-len(item[1]), item[0][0], item[0][1] or ""))
    return [
        FailureGroup(state, step, len(members), members[0][0], members[0][1])
        for (state, step), members in ordered
    ]


def unfinished_sagas(store: Store) -> list[SagaExecution]:
    """Sagas not yet terminal (running, waiting, compensating), oldest first."""
    return store.list_sagas([state.value for state in SagaState if not state.terminal])


def describe_unfinished(saga: SagaExecution, now: float) -> str:
    """One line: the saga, its state and step, and how far past its deadline it is."""
    late = now - saga.deadline_at
    when = f"{late:.0f} s past its deadline" if late > 0 else "within its deadline"
    return (
        f"saga {saga.saga_id} ({saga.saga_name}) is {saga.state} at step {saga.step_index} "
        f"({saga.steps_completed} of {saga.steps_total} steps complete), {when}"
    )


def parked_compensations(store: Store) -> list[DeadLetter]:
    """Compensations parked in the dead-letter queue, oldest first."""
    return [
        letter
        for letter in store.list_dead_letters(status="parked")
        if letter.kind == "compensation"
    ]


def describe_letter(letter: DeadLetter) -> str:
    """One line naming the dead letter, its saga and step, attempts and error."""
    return (
        f"dead letter {letter.id}: compensation of step {letter.step_name!r} of saga "
        f"{letter.saga_id} failed after {letter.attempts} attempt(s): {letter.error}"
    )


@dataclass(frozen=True)
class ActorFailures:
    """Handler failures of one actor within the window, with the latest error."""

    actor: str
    count: int
    latest_error: str


def actor_failures(store: Store, *, since: float) -> list[ActorFailures]:
    """Actors whose handlers raised since ``since``, most failures first."""
    found: dict[str, tuple[int, str]] = {}
    for actor, error in store.actor_errors(since):
        count, _latest = found.get(actor, (0, ""))
        found[actor] = (count + 1, error)
    return sorted(
        (ActorFailures(actor, count, error) for actor, (count, error) in found.items()),
        key=lambda failures: (-failures.count, failures.actor),
    )
