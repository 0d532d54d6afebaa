"""Consistency Validator, planning half: the cases each saga's generated tests exercise.

- the dead-letter case: the first step up to the pivot (the second step at the earliest)
  that follows a compensatable step is refused, and the compensation of the last
  compensatable step before it fails on every attempt, so it is dead-lettered and then
  redriven; no such step, no case (and no dead-letter test);
- the expected effects of one successful run, which a run with every command delivered
  twice must match: one stored event per step that writes an aggregate (queries store
  none) and one external call per gateway step.
"""

from __future__ import annotations

from collections.abc import Mapping

from sagacrew.agents.blueprint import (
    ActorSpec,
    Blueprint,
    DeadLetterCase,
    Effects,
    SagaSpec,
    SagaTestPlan,
    StepSpec,
)
from sagacrew.agents.spec.model import CommandKind
from sagacrew.runtime import SAMPLE_ITEMS


def dead_letter_case(saga: SagaSpec) -> DeadLetterCase | None:
    """A step to fail and an earlier compensation to break, for the dead-letter test."""
    last = saga.pivot_index if saga.pivot_index is not None else len(saga.steps) - 1
    for failing in saga.steps[1 : last + 1]:
        earlier = [s for s in saga.steps[: failing.index] if s.compensation is not None]
        if earlier:
            return DeadLetterCase(fail=failing.name, compensate=earlier[-1].name)
    return None


def effects(saga: SagaSpec, actors: Mapping[str, ActorSpec]) -> Effects:
    """Events and external calls one successful run of ``saga`` leaves behind, on the
    runtime's sample input (a fan-out step acts once per item: ``SAMPLE_ITEMS``)."""

    def times(step: StepSpec) -> int:
        return SAMPLE_ITEMS if step.for_each is not None else 1

    events = sum(
        times(s)
        for s in saga.steps
        if actors[s.target].kind == "aggregate" and s.kind is not CommandKind.QUERY
    )
    calls = sum(times(s) for s in saga.steps if actors[s.target].kind == "gateway")
    return Effects(events=events, calls=calls)


def saga_test_plans(blueprint: Blueprint) -> list[SagaTestPlan]:
    """One plan per saga of ``blueprint``, in its saga order."""
    assert blueprint.actors is not None and blueprint.sagas is not None
    actors = {actor.name: actor for actor in blueprint.actors.actors}
    return [
        SagaTestPlan(
            saga=saga.name, dead_letter=dead_letter_case(saga), effects=effects(saga, actors)
        )
        for saga in blueprint.sagas.sagas
    ]
