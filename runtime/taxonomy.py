"""The event taxonomy registry a generated system declares: name, version, reliability."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class EventType:
    """One registered event: ``context.aggregate.past_tense_verb`` at a schema version.

    ``reliability``: ``persistent`` events must survive a crash (they are stored before
    anything acts on them); ``transient`` ones may be lost. ``required`` lists the payload
    fields every instance carries (the full schema is in ``schemas/``).
    """

    name: str
    version: int
    reliability: Literal["persistent", "transient"]
    source: str
    required: tuple[str, ...] = ()
