"""Reviewing proposals item by item: each item becomes an ``Edit`` or a rejection.

The shared rules live here: an item may carry only its model's fields, may name only
things that already exist (nothing can be renamed or added except new checks and fault
scenarios), may appear once, and its text must pass ``text_problem``. A rejection reads
``<agent>: <item>: <reason>``; the deterministic value is then kept.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from sagacrew.crew.llm.merge import Edit, JsonPath
from sagacrew.crew.llm.proposals import NamedText, SupervisionTweak, _Proposal
from sagacrew.crew.llm.text import text_problem

T = TypeVar("T")
Named = TypeVar("Named", NamedText, SupervisionTweak)

MAX_ITEMS = 100
"""Items accepted per proposal list; the rest are rejected as too many."""


@dataclass
class Review:
    """Accepted edits and rejection reasons, in proposal order."""

    edits: list[Edit] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)

    def reject(self, label: str, reason: str) -> None:
        """Record that ``label`` is rejected because of ``reason``."""
        self.rejected.append(f"{label}: {reason}")

    def extend(self, other: Review) -> None:
        """Append ``other``'s edits and rejections."""
        self.edits.extend(other.edits)
        self.rejected.extend(other.rejected)


def reject_unknown_fields(review: Review, label: str, item: _Proposal) -> bool:
    """Reject ``item`` when it carries keys that are not fields; True when rejected."""
    unknown = item.unknown_fields()
    if unknown:
        review.reject(
            label,
            f"field {unknown[0]!r} may not be proposed (only {sorted(type(item).model_fields)})",
        )
    return bool(unknown)


def capped(review: Review, label: str, items: Sequence[T]) -> Sequence[T]:
    """The first ``MAX_ITEMS`` of ``items``; the rest are rejected together."""
    if len(items) > MAX_ITEMS:
        review.reject(label, f"{len(items) - MAX_ITEMS} items beyond the first {MAX_ITEMS}")
    return items[:MAX_ITEMS]


def known_names(names: Iterable[str], limit: int = 8) -> str:
    """Up to ``limit`` of ``names``, sorted, for a rejection message."""
    ordered = sorted(names)
    shown = ", ".join(ordered[:limit]) or "none"
    return shown + (f" and {len(ordered) - limit} more" if len(ordered) > limit else "")


def existing_once(
    review: Review,
    items_label: str,
    item_label: str,
    items: Sequence[Named],
    what: str,
    known: Collection[str],
) -> Iterator[tuple[str, Named]]:
    """Each item (up to ``MAX_ITEMS``) that carries only its fields and names one of the
    ``known`` things, the first time it names it, with its label ``<item_label> 'name'``;
    every other item is rejected."""
    seen: set[str] = set()
    for item in capped(review, items_label, items):
        label = f"{item_label} {item.name!r}"
        if reject_unknown_fields(review, label, item):
            continue
        if item.name not in known:
            review.reject(
                label,
                f"there is no {what} of that name (names cannot be changed; "
                f"known: {known_names(known)})",
            )
            continue
        if item.name in seen:
            review.reject(label, "it is proposed more than once")
            continue
        seen.add(item.name)
        yield label, item


def review_texts(
    agent: str,
    what: str,
    items: Sequence[NamedText],
    targets: Mapping[str, Sequence[JsonPath]],
) -> Review:
    """New descriptions for existing things: ``targets`` maps each existing name to the
    paths of its ``description`` in the blueprint's JSON (several for an event with
    several versions)."""
    review = Review()
    for label, item in existing_once(
        review,
        f"{agent}: {what} descriptions",
        f"{agent}: description of {what}",
        items,
        what,
        targets,
    ):
        problem = text_problem(item.description)
        if problem:
            review.reject(label, problem)
            continue
        sets = tuple((path, item.description) for path in targets[item.name])
        review.edits.append(Edit(label, sets=sets))
    return review


def number_problem(
    value: float, name: str, low: float, high: float, *, low_open: bool = False
) -> str | None:
    """Why ``value`` is not a finite number in ``[low, high]`` (``(low, high]`` when
    ``low_open``), or ``None``."""
    if not math.isfinite(value):
        return f"{name} {value} is not a finite number"
    if value > high or value < low or (low_open and value == low):
        bracket = "(" if low_open else "["
        return f"{name} {value} is outside {bracket}{low:g}, {high:g}]"
    return None
