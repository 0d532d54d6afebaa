"""``refine_with_llm``: run the LLM crew, validate every proposal, merge what passes.

The deterministic blueprint is the default and stays complete on its own. The crew's
four proposals are reviewed item by item (``review_design``, ``review_validation``);
accepted items are merged as ``Edit``s and the merged blueprint must pass ``CodeBaseline``
(emits, lints clean, same code outside docstrings and comments). If the whole set fails
that last check, the failing group is halved until each failing item is found: only those
are rejected.
Any crew, HTTP or output failure rejects every proposal and returns the deterministic
blueprint unchanged: this function never raises for what the LLM or the endpoint does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from sagacrew.agents.blueprint import Blueprint
from sagacrew.agents.spec import DomainSpec
from sagacrew.crew.llm.errors import LlmError
from sagacrew.crew.llm.guard import CodeBaseline
from sagacrew.crew.llm.inputs import crew_inputs
from sagacrew.crew.llm.merge import Edit, apply_edits
from sagacrew.crew.llm.proposals import (
    ActorProposal,
    EventProposal,
    SagaProposal,
    ValidationProposal,
)
from sagacrew.crew.llm.review import Review
from sagacrew.crew.llm.review_design import review_actors, review_events, review_sagas
from sagacrew.crew.llm.review_validation import review_validation
from sagacrew.crew.llm.settings import LlmSettings
from sagacrew.crew.llm.sql import SqlChecker

TASK_OUTPUTS = (ActorProposal, SagaProposal, EventProposal, ValidationProposal)
"""The structured output each task must give, in task order."""


@dataclass(frozen=True)
class Refinement:
    """The result of ``refine_with_llm``.

    ``blueprint`` is the merged blueprint (the deterministic one when nothing was
    accepted); ``accepted`` names each merged item (``"actors: description of actor
    'ordering.order'"``); ``rejected`` gives each rejected item and why (``"actors:
    supervision of 'root': intensity 0 is outside [1, 100]"``). A rejected item keeps its
    deterministic value.
    """

    blueprint: Blueprint
    accepted: list[str]
    rejected: list[str]


def _one_line(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(str(exc).split()) or "no message"
    return f"{type(exc).__name__}: {text[:limit]}"


def _unchanged(blueprint: Blueprint, reason: str) -> Refinement:
    return Refinement(
        blueprint, [], [f"all proposals: {reason}; the deterministic blueprint is kept"]
    )


def _typed(outputs: Sequence[Any]) -> str | None:
    """Why the crew's outputs are not the four proposals, or ``None`` when they are."""
    if len(outputs) != len(TASK_OUTPUTS):
        return f"the crew returned {len(outputs)} task outputs, expected {len(TASK_OUTPUTS)}"
    for output, expected in zip(outputs, TASK_OUTPUTS, strict=True):
        if not isinstance(output, expected):
            return f"the answer to the {expected.__name__} task is not a valid {expected.__name__}"
    return None


def _review(outputs: Sequence[Any], blueprint: Blueprint, checker: SqlChecker) -> Review:
    actors, sagas, events, validation = outputs
    review = Review()
    review.extend(review_actors(actors, blueprint))
    review.extend(review_sagas(sagas, blueprint))
    review.extend(review_events(events, blueprint))
    review.extend(review_validation(validation, blueprint, checker))
    return review


def _try(baseline: CodeBaseline, blueprint: Blueprint, edits: Sequence[Edit]) -> Blueprint | str:
    """The merged blueprint, or the reason it cannot be used (a ``str``)."""
    try:
        merged = apply_edits(blueprint, edits)
    except (ValidationError, LlmError) as exc:
        return f"the merged blueprint is invalid: {_one_line(exc)}"
    problem: str | None = baseline.problem(merged)
    return problem or merged


def _merge_group(
    baseline: CodeBaseline, current: Blueprint, edits: Sequence[Edit]
) -> tuple[Blueprint, list[str], list[str]]:
    """Merge ``edits`` onto ``current`` if the result passes; else split them in halves
    (in order) until each failing edit is alone, and reject only those."""
    candidate = _try(baseline, current, edits)
    if isinstance(candidate, Blueprint):
        return candidate, [edit.label for edit in edits], []
    if len(edits) == 1:
        return current, [], [f"{edits[0].label}: {candidate}"]
    middle = len(edits) // 2
    current, accepted, rejected = _merge_group(baseline, current, edits[:middle])
    current, more_accepted, more_rejected = _merge_group(baseline, current, edits[middle:])
    return current, accepted + more_accepted, rejected + more_rejected


def merge_reviewed(spec: DomainSpec, blueprint: Blueprint, review: Review) -> Refinement:
    """Merge ``review``'s edits into ``blueprint``: all at once when the result passes
    ``CodeBaseline``, else by halving the failing group until each failing edit is found
    and rejected (the others are merged, in proposal order)."""
    if not review.edits:
        return Refinement(blueprint, [], list(review.rejected))
    baseline = CodeBaseline(spec, blueprint)
    merged, accepted, rejected = _merge_group(baseline, blueprint, review.edits)
    return Refinement(merged, accepted, [*review.rejected, *rejected])


def refine_with_llm(spec: DomainSpec, blueprint: Blueprint, settings: LlmSettings) -> Refinement:
    """Ask the LLM crew for refinements of ``blueprint`` and merge the valid ones.

    ``blueprint`` must be complete (all four parts, e.g. from ``pipeline.design``). The
    crew runs once (sequential process, one task per agent, each given the deterministic
    parts as JSON); then every proposed item is validated (schema, allowed fields, bounds,
    plain text, read-only SQL that runs on an empty store, existing sagas and steps) and
    the merged blueprint must still emit and lint clean. Never raises for LLM, HTTP or
    output failures: they reject all proposals and return ``blueprint`` unchanged.
    """
    with SqlChecker() as checker:
        inputs = crew_inputs(spec, blueprint, checker.tables)
        try:
            from sagacrew.crew.llm.crew import kickoff

            outputs = kickoff(settings, inputs)
        except Exception as exc:  # whatever the crew, client or endpoint raised
            return _unchanged(blueprint, f"the LLM crew failed ({_one_line(exc)})")
        problem = _typed(outputs)
        if problem:
            return _unchanged(blueprint, problem)
        try:
            review = _review(outputs, blueprint, checker)
        except Exception as exc:  # a proposal the reviewers could not handle
            return _unchanged(blueprint, f"the proposals could not be reviewed ({_one_line(exc)})")
    try:
        return merge_reviewed(spec, blueprint, review)
    except Exception as exc:  # a merge that could not be checked is not used
        return _unchanged(blueprint, f"the proposals could not be merged ({_one_line(exc)})")
