"""Reviewing the design agents' proposals: actors, supervision, sagas, events."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sagacrew.agents.blueprint import Blueprint
from sagacrew.crew.llm.merge import Edit, JsonPath
from sagacrew.crew.llm.proposals import (
    ActorProposal,
    EventProposal,
    NamedText,
    SagaProposal,
    _Proposal,
)
from sagacrew.crew.llm.review import Review, existing_once, number_problem, review_texts
from sagacrew.crew.llm.text import text_problem

MAX_INTENSITY = 100
MAX_PERIOD_S = 3600.0
MAX_BACKOFF_S = 300.0


def reject_unknown_top_fields(agent: str, proposal: _Proposal) -> Review:
    """One rejection per top-level key the LLM added (e.g. ``pivot_index``)."""
    review = Review()
    for name in proposal.unknown_fields():
        review.reject(
            f"{agent}: field {name!r}",
            f"it may not be proposed (only {', '.join(type(proposal).model_fields)})",
        )
    return review


def description_paths(section: str, names: Iterable[str]) -> dict[str, list[JsonPath]]:
    """Where the description of each of a section's items is (``names`` in list order):
    ``(section, section, index, "description")``, several for a name listed several times
    (an event with several versions)."""
    paths: dict[str, list[JsonPath]] = {}
    for i, name in enumerate(names):
        paths.setdefault(name, []).append((section, section, i, "description"))
    return paths


def review_descriptions(
    section: str,
    what: str,
    proposal: _Proposal,
    descriptions: Sequence[NamedText],
    names: Iterable[str],
) -> Review:
    """A section's proposal with its unknown top-level fields rejected and its new
    ``descriptions`` of ``what`` reviewed against the section's items (``names``)."""
    review = reject_unknown_top_fields(section, proposal)
    review.extend(review_texts(section, what, descriptions, description_paths(section, names)))
    return review


def review_actors(proposal: ActorProposal, blueprint: Blueprint) -> Review:
    """Actor descriptions by address; supervision limits by supervisor name."""
    assert blueprint.actors is not None
    actors = (actor.name for actor in blueprint.actors.actors)
    review = review_descriptions("actors", "actor", proposal, proposal.descriptions, actors)
    supervisors = {s.name: i for i, s in enumerate(blueprint.actors.supervisors)}
    for label, tweak in existing_once(
        review,
        "actors: supervision",
        "actors: supervision of",
        proposal.supervision,
        "supervisor",
        supervisors,
    ):
        problem = (
            number_problem(tweak.intensity, "intensity", 1, MAX_INTENSITY)
            or number_problem(tweak.period_s, "period_s", 0, MAX_PERIOD_S, low_open=True)
            or number_problem(tweak.backoff_min_s, "backoff_min_s", 0, MAX_BACKOFF_S)
            or number_problem(tweak.backoff_max_s, "backoff_max_s", 0, MAX_BACKOFF_S)
            or (
                f"backoff_min_s {tweak.backoff_min_s} exceeds backoff_max_s {tweak.backoff_max_s}"
                if tweak.backoff_min_s > tweak.backoff_max_s
                else None
            )
            or text_problem(tweak.rationale)
        )
        if problem:
            review.reject(label, problem)
            continue
        index = supervisors[tweak.name]
        values = {
            "intensity": tweak.intensity,
            "period_s": float(tweak.period_s),
            "backoff_min_s": float(tweak.backoff_min_s),
            "backoff_max_s": float(tweak.backoff_max_s),
            "rationale": tweak.rationale,
        }
        review.edits.append(
            Edit(
                label,
                sets=tuple(
                    (("actors", "supervisors", index, name), value)
                    for name, value in values.items()
                ),
            )
        )
    return review


def review_sagas(proposal: SagaProposal, blueprint: Blueprint) -> Review:
    """Saga descriptions by saga name; step descriptions by ``saga.step``."""
    assert blueprint.sagas is not None
    sagas = (saga.name for saga in blueprint.sagas.sagas)
    review = review_descriptions("sagas", "saga", proposal, proposal.saga_descriptions, sagas)
    steps: dict[str, list[JsonPath]] = {
        f"{saga.name}.{step.name}": [("sagas", "sagas", i, "steps", j, "description")]
        for i, saga in enumerate(blueprint.sagas.sagas)
        for j, step in enumerate(saga.steps)
    }
    review.extend(review_texts("sagas", "step", proposal.step_descriptions, steps))
    return review


def review_events(proposal: EventProposal, blueprint: Blueprint) -> Review:
    """Event descriptions by full event name."""
    assert blueprint.events is not None
    events = (event.name for event in blueprint.events.events)
    return review_descriptions("events", "event", proposal, proposal.descriptions, events)
