"""Whole event names, as a taxonomy fixes them: ``ml.run.completed``, ``ai.upm.snapshot.activated``.

A name is two or more dot-separated lowercase segments, the last a past-tense verb. A
command's ``event`` may be one (instead of a verb, which makes ``context.aggregate.verb``),
and so is every external system's ``completion_event``; uniqueness is checked with the
other events (``rules._events``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from sagacrew.agents.spec.naming import is_past_tense, past_tense_of
from sagacrew.agents.spec.violation import Path, Violation

__all__ = ["event_name_problems"]

_EVENT_NAME_RE = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+")


def event_name_problems(where: Path, key: str, event: str) -> Iterator[Violation]:
    """A whole event name: two or more dot-separated lowercase segments, the last a
    past-tense verb (a taxonomy's shape: ``ml.run.completed``)."""
    segments = event.split(".")
    if len(segments) < 2 or not _EVENT_NAME_RE.fullmatch(event):
        yield Violation(
            where,
            f"{key} '{event}' must be dot-separated lowercase words, e.g. "
            "`context.aggregate.past_tense_verb`",
            f"write e.g. `{key}: {_lowered(event)}`",
        )
        return
    verb = segments[-1]
    if not is_past_tense(verb):
        fixed = ".".join([*segments[:-1], past_tense_of(verb)])
        yield Violation(
            where,
            f"{key} '{event}' does not end in a past-tense verb",
            f"name what happened: did you mean {fixed}?",
        )


def _lowered(event: str) -> str:
    parts = [part for part in re.split(r"[^\w]+|_(?=[A-Z])", event) if part] or ["context"]
    if len(parts) < 2:
        parts = ["context", *parts]
    return ".".join(part.lower() for part in parts)
