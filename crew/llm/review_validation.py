"""Reviewing the Consistency Validator's proposals: extra SQL checks and fault scenarios.

A check is added only if its name is new, its description is plain text, ``params`` is
``"now"`` once per ``?``, and both queries pass ``SqlChecker``. A fault scenario is added
only if its name is new, its kind is known, it names an existing saga (and step), its
rate is in [0, 1], and a ``business_failure`` does not target a step after the pivot
(those are retried until they succeed, never refused for good).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, TypeVar, get_args

from sagacrew.agents.blueprint import Blueprint, FaultScenario
from sagacrew.crew.llm.merge import Edit, JsonPath
from sagacrew.crew.llm.proposals import FaultProposal, InvariantCheck, ValidationProposal
from sagacrew.crew.llm.review import Review, capped, known_names, number_problem
from sagacrew.crew.llm.review import reject_unknown_fields as _unknown
from sagacrew.crew.llm.review_design import reject_unknown_top_fields
from sagacrew.crew.llm.sql import SqlChecker
from sagacrew.crew.llm.text import text_problem

NAME = re.compile(r"[a-z][a-z0-9_]{2,62}")
"""Names of new checks and fault scenarios: snake_case, 3 to 63 characters."""
FAULT_KINDS: tuple[str, ...] = get_args(FaultScenario.model_fields["kind"].annotation)


def _check_problem(check: InvariantCheck, taken: set[str], checker: SqlChecker) -> str | None:
    if not NAME.fullmatch(check.name):
        return "the name must be snake_case, 3 to 63 characters"
    if check.name in taken:
        return "a check of that name exists already"
    if any(p != "now" for p in check.params):
        return "params may only list 'now' (the validation time, epoch seconds)"
    problem = text_problem(check.description)
    if problem:
        return f"description: {problem}"
    problem = checker.violations_problem(check.violations_sql, len(check.params))
    if problem:
        return f"violations_sql: {problem}"
    problem = checker.subjects_problem(check.subjects_sql)
    return f"subjects_sql: {problem}" if problem else None


def _fault_problem(fault: FaultProposal, taken: set[str], blueprint: Blueprint) -> str | None:
    assert blueprint.sagas is not None
    if not NAME.fullmatch(fault.name):
        return "the name must be snake_case, 3 to 63 characters"
    if fault.name in taken:
        return "a fault scenario of that name exists already"
    if fault.kind not in FAULT_KINDS:
        return f"kind {fault.kind!r} is not one of {', '.join(FAULT_KINDS)}"
    sagas = {saga.name: saga for saga in blueprint.sagas.sagas}
    saga = sagas.get(fault.saga)
    if saga is None:
        return f"there is no saga {fault.saga!r} (known: {known_names(sagas)})"
    if fault.step is not None:
        step = next((s for s in saga.steps if s.name == fault.step), None)
        if step is None:
            return f"saga {saga.name!r} has no step {fault.step!r}"
        if fault.kind == "business_failure" and step.retriable:
            return f"step {step.name!r} comes after the pivot: it is retried, never refused"
    problem: str | None = number_problem(fault.rate, "rate", 0.0, 1.0) or text_problem(
        fault.description
    )
    return problem


Item = TypeVar("Item", InvariantCheck, FaultProposal)


def _query(check: InvariantCheck) -> dict[str, Any]:
    return {
        "name": check.name,
        "description": check.description,
        "violations_sql": check.violations_sql.strip(),
        "subjects_sql": check.subjects_sql.strip(),
        "params": list(check.params),
    }


def _scenario(fault: FaultProposal) -> dict[str, Any]:
    return {
        "name": fault.name,
        "kind": fault.kind,
        "saga": fault.saga,
        "step": fault.step,
        "rate": float(fault.rate),
        "description": fault.description,
    }


def _append_new(
    review: Review,
    what: str,
    items: Sequence[Item],
    taken: set[str],
    problem: Callable[[Item], str | None],
    entry: Callable[[Item], dict[str, Any]],
    target: JsonPath,
) -> None:
    """Append ``entry(item)`` under ``target`` for each item without a ``problem`` (its
    name then counts as ``taken``); reject the others, labelled ``validation: <what>``."""
    for item in capped(review, f"validation: {what}s", items):
        label = f"validation: {what} {item.name!r}"
        if _unknown(review, label, item):
            continue
        reason = problem(item)
        if reason:
            review.reject(label, reason)
            continue
        taken.add(item.name)
        review.edits.append(Edit(label, appends=((target, entry(item)),)))


def review_validation(
    proposal: ValidationProposal, blueprint: Blueprint, checker: SqlChecker
) -> Review:
    """Extra checks and fault scenarios, appended after the deterministic ones."""
    assert blueprint.validation is not None
    review = reject_unknown_top_fields("validation", proposal)
    checks_taken = {q.name for q in blueprint.validation.queries}
    _append_new(
        review,
        "check",
        proposal.invariant_checks,
        checks_taken,
        lambda check: _check_problem(check, checks_taken, checker),
        _query,
        ("validation", "queries"),
    )
    faults_taken = {f.name for f in blueprint.validation.faults}
    _append_new(
        review,
        "fault scenario",
        proposal.fault_scenarios,
        faults_taken,
        lambda fault: _fault_problem(fault, faults_taken, blueprint),
        _scenario,
        ("validation", "faults"),
    )
    return review
