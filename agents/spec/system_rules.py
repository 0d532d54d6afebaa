"""Rules for system invariants (the spec's top-level ``invariants:``).

Each invariant is either ``conserved`` (terms naming an int/float field of an aggregate,
``context.aggregate.field``, or a parameter of an external operation,
``external.operation.param``) or ``each`` + ``exists`` (a field of one aggregate naming
instances of another); names are unique.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sagacrew.agents.spec.catalog import Catalog
from sagacrew.agents.spec.model import SystemInvariant
from sagacrew.agents.spec.naming import suggestion
from sagacrew.agents.spec.violation import Path, Violation, duplicate_name

__all__ = ["check_system_invariants"]


def check_system_invariants(data: Any, catalog: Catalog) -> Iterator[Violation]:
    """Every problem of the spec's system invariants that validated."""
    raw = data.get("invariants") if isinstance(data, dict) else None
    if not isinstance(raw, list):
        return
    seen: set[str] = set()
    for index, item in enumerate(raw):
        try:
            invariant = SystemInvariant.model_validate(item)
        except ValueError:
            continue  # reported by the model's own validation
        path: Path = ("invariants", index)
        yield from duplicate_name(
            seen, invariant.name, path, "system invariant", "give each invariant its own name"
        )
        has_conserved = invariant.conserved is not None
        has_reference = invariant.each is not None or invariant.exists is not None
        if has_conserved == has_reference:
            yield Violation(
                path,
                f"system invariant '{invariant.name}' must say either `conserved:` or "
                "`each:` with `exists:`",
                "e.g. `conserved: [banking.account.balance_cents, "
                "remote_bank.credit_remote.amount_cents]`",
            )
            continue
        if invariant.conserved is not None:
            for term_index, term in enumerate(invariant.conserved):
                yield from _term((*path, "conserved", term_index), term.lstrip("-"), catalog)
        else:
            yield from _reference(path, invariant, catalog)


def _term(path: Path, term: str, catalog: Catalog) -> Iterator[Violation]:
    first, second, name = term.split(".")
    entry = catalog.aggregates.get((first, second))
    if entry is not None:
        if entry.model is None:
            return
        kind = entry.model.fields.get(name)
        if kind is None:
            yield Violation(
                path,
                f"'{name}' is not a field of aggregate '{first}.{second}'",
                suggestion(name, entry.model.fields),
            )
        elif kind not in ("int", "float"):
            yield Violation(
                path,
                f"'{term}' is a {kind} field; a conserved sum needs int or float fields",
                "name a numeric field",
            )
        return
    operation = catalog.externals.get(first, {}).get(second)
    if operation is not None:
        if operation.model is not None and name not in operation.model.params:
            yield Violation(
                path,
                f"'{name}' is not a param of operation '{first}.{second}'",
                suggestion(name, operation.model.params),
            )
        return
    known = [f"{c}.{a}" for c, a in catalog.aggregates] + [
        f"{s}.{o}" for s, ops in catalog.externals.items() for o in ops
    ]
    yield Violation(
        path,
        f"'{first}.{second}' in '{term}' is neither an aggregate nor an external operation",
        suggestion(f"{first}.{second}", known),
    )


def _reference(path: Path, invariant: SystemInvariant, catalog: Catalog) -> Iterator[Violation]:
    if invariant.each is None or invariant.exists is None:
        missing = "exists" if invariant.exists is None else "each"
        yield Violation(
            path,
            f"system invariant '{invariant.name}' needs `{missing}:` too",
            "write `each: context.aggregate.field` and `exists: context.aggregate`",
        )
        return
    context, aggregate, field_name = invariant.each.split(".")
    entry = catalog.aggregates.get((context, aggregate))
    known = [f"{c}.{a}" for c, a in catalog.aggregates]
    if entry is None:
        yield Violation(
            (*path, "each"),
            f"'{context}.{aggregate}' is not an aggregate",
            suggestion(f"{context}.{aggregate}", known),
        )
    elif entry.model is not None and field_name not in entry.model.fields:
        yield Violation(
            (*path, "each"),
            f"'{field_name}' is not a field of aggregate '{context}.{aggregate}'",
            suggestion(field_name, entry.model.fields),
        )
    target = tuple(invariant.exists.split("."))
    if target not in catalog.aggregates:
        yield Violation(
            (*path, "exists"),
            f"'{invariant.exists}' is not an aggregate",
            suggestion(invariant.exists, known),
        )
