"""System invariants: rules across aggregates and external systems, checked over the
state the store holds (aggregates rebuilt by replay, the external-call ledger).

Two kinds, as the spec declares them:

- :class:`Conserved`: a sum that never changes. A term ``context.aggregate.field`` is the
  field's change from its initial value summed over every live instance; a term
  ``external.operation.param`` is that parameter summed over the calls of the operation
  that took effect (``done`` or ``completed``; ``undone``, ``cancelled`` and ``running``
  calls have not moved anything). A leading ``-`` subtracts a term. The invariant holds
  when the sum of the terms is zero: what left the accounts arrived at the remote bank.
- :class:`References`: every live instance of one aggregate names, by a field, a live
  instance of another.

Check them when no saga is in flight (at the end of a run): midway, a saga legitimately
holds money between its debit and its credit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sagacrew.runtime.aggregate import AggregateActor
from sagacrew.runtime.store import Store

__all__ = ["Conserved", "InvariantOutcome", "References", "check_system_invariants"]

_EFFECTIVE = ("done", "completed")
"""Ledger statuses of an external call whose effect stands."""


@dataclass(frozen=True)
class Conserved:
    """``terms`` sum to zero (each ``[-]context.aggregate.field`` or
    ``[-]external.operation.param``)."""

    name: str
    terms: tuple[str, ...]
    description: str = ""


@dataclass(frozen=True)
class References:
    """Every live instance of ``each``'s aggregate (``context.aggregate.field``) names a
    live instance of ``exists`` (``context.aggregate``) by that field."""

    name: str
    each: str
    exists: str
    description: str = ""


SystemInvariant = Conserved | References


@dataclass(frozen=True)
class InvariantOutcome:
    """One invariant checked: how many things it looked at and what broke it."""

    name: str
    description: str
    subjects: int
    violations: list[str]


def check_system_invariants(
    store: Store,
    aggregates: Iterable[type[AggregateActor]],
    invariants: Sequence[SystemInvariant],
) -> list[InvariantOutcome]:
    """Check each invariant against ``store``; ``aggregates`` are the system's actor types."""
    actors = {cls.address: cls(store) for cls in aggregates}
    outcomes = []
    for invariant in invariants:
        if isinstance(invariant, Conserved):
            outcomes.append(_conserved(store, actors, invariant))
        else:
            outcomes.append(_references(actors, invariant))
    return outcomes


def _conserved(
    store: Store, actors: dict[str, AggregateActor], invariant: Conserved
) -> InvariantOutcome:
    total, subjects, parts = 0.0, 0, []
    for written in invariant.terms:
        sign = -1 if written.startswith("-") else 1
        first, second, name = written.lstrip("-").split(".")
        actor = actors.get(f"{first}.{second}")
        value = 0.0
        if actor is not None:
            baseline = actor.empty_state().get(name, 0)
            for _, state in actor.live_instances():
                value += state.get(name, 0) - baseline
                subjects += 1
        else:
            for call in store.list_external_calls(system=first):
                if call.operation == second and call.status in _EFFECTIVE:
                    value += _number(call.request.get(name))
                    subjects += 1
        total += sign * value
        parts.append(f"{written} moved {_shown(value)}")
    violations = []
    if abs(total) > 1e-9:
        violations.append(
            f"{invariant.name}: the conserved sum changed by {_shown(total)} ({'; '.join(parts)})"
        )
    return InvariantOutcome(invariant.name, _about(invariant), subjects, violations)


def _references(actors: dict[str, AggregateActor], invariant: References) -> InvariantOutcome:
    context, aggregate, field_name = invariant.each.split(".")
    source = actors.get(f"{context}.{aggregate}")
    target = actors.get(invariant.exists)
    subjects, violations = 0, []
    if source is not None and target is not None:
        for aggregate_id, state in source.live_instances():
            subjects += 1
            named = str(state.get(field_name, ""))
            if not (named and target.is_live(named)):
                violations.append(
                    f"{source.stream_id(aggregate_id)}: {field_name}={named!r} names no live "
                    f"{invariant.exists}"
                )
    return InvariantOutcome(invariant.name, _about(invariant), subjects, violations)


def _about(invariant: SystemInvariant) -> str:
    if invariant.description:
        return invariant.description
    if isinstance(invariant, Conserved):
        return f"The sum of {', '.join(invariant.terms)} never changes."
    return f"Every {invariant.each} names a live {invariant.exists}."


def _number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0.0
    return float(value)


def _shown(value: float) -> str:
    return f"{value:+g}"
