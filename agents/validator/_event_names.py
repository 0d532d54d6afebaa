"""SAGA-L003's judgement of one event name, shared by the Python and the Elixir lint.

The naming rules apply with or without a taxonomy: a name is two or more dot-separated
lowercase segments (``[a-z][a-z0-9_]*``), the last a past-tense verb (``ml.run.completed``,
``ai.upm.snapshot.activated``); the spec checks its own event names the same way
(``agents.spec.event_names``). With a taxonomy, a name must also be registered in it; a
registered name is never reported (the taxonomy is the authority on its own names).

Which strings are event names is each language's business (the ``_rule_taxonomy`` and
``_elixir_messages`` docstrings): this module only judges a string found in an event slot.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection
from dataclasses import dataclass

from sagacrew.agents.spec.naming import is_past_tense, past_tense_of

EVENT_LIKE = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z_][A-Za-z0-9_-]*)+$")
"""A dotted word without spaces, slashes, wildcards or placeholders: a candidate name."""
WELL_FORMED = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
THREE_SEGMENTS = re.compile(r"^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*){2}$")
"""The stricter shape asked of strings in weak slots (``append``), where most are not events."""

_IRREGULAR = {
    "send": "sent",
    "pay": "paid",
    "build": "built",
    "make": "made",
    "hold": "held",
    "run": "run",
    "begin": "begun",
    "sell": "sold",
    "buy": "bought",
    "write": "written",
    "take": "taken",
    "give": "given",
    "lose": "lost",
    "find": "found",
    "set": "set",
    "reset": "reset",
    "put": "put",
    "split": "split",
    "stop": "stopped",
    "drop": "dropped",
    "ship": "shipped",
    "plan": "planned",
    "submit": "submitted",
    "commit": "committed",
    "emit": "emitted",
    "admit": "admitted",
    "transfer": "transferred",
    "occur": "occurred",
}

_RULES = "names are context.aggregate.past_tense_verb, lowercase, dot-separated"


@dataclass(frozen=True)
class NameProblem:
    """Why an event name is reported (``message``) and what to write instead (``fix``)."""

    message: str
    fix: str


def is_event_like(text: str, *, strict: bool = False) -> bool:
    """True when ``text`` looks like an attempt at an event name (``strict``: three lowercase
    segments, for weak slots)."""
    return bool((THREE_SEGMENTS if strict else EVENT_LIKE).match(text))


def past_tense(verb: str) -> str:
    """The past tense of a snake_case verb's last word: ``complete`` -> ``completed``."""
    head, _, last = verb.rpartition("_")
    word = _IRREGULAR.get(last.lower()) or past_tense_of(last)
    return f"{head}_{word}" if head else word


def naming_suggestion(name: str) -> str | None:
    """The name the rules would accept, or None when ``name`` already follows them."""
    lowered = ".".join(
        re.sub(r"_+", "_", re.sub(r"[^a-z0-9_]", "_", segment.lower())).strip("_") or "event"
        for segment in name.split(".")
    )
    segments = lowered.split(".")
    if not is_past_tense(segments[-1]):
        segments[-1] = past_tense(segments[-1])
    fixed = ".".join(segments)
    return None if fixed == name and WELL_FORMED.match(name) else fixed


def problem(name: str, taxonomy: Collection[str] | None) -> NameProblem | None:
    """Why ``name`` is reported, or None: it follows the rules and (with a taxonomy) is in it."""
    if taxonomy is not None and name in taxonomy:
        return None
    suggestion = naming_suggestion(name)
    rule_break = _rule_break(name) if suggestion is not None else None
    if taxonomy is None:
        if rule_break is None or suggestion is None:
            return None
        return NameProblem(
            f"event name '{name}' breaks the naming rules: {rule_break}",
            f"did you mean '{suggestion}'? ({_RULES})",
        )
    close = difflib.get_close_matches(name, sorted(taxonomy), n=1, cutoff=0.8)
    message = f"event '{name}' is not in the taxonomy"
    if close:
        return NameProblem(message, f"use the registered name '{close[0]}'")
    if rule_break is not None and suggestion is not None:
        return NameProblem(
            f"{message} and breaks the naming rules: {rule_break}",
            f"did you mean '{suggestion}'? Then add it to the taxonomy ({_RULES})",
        )
    return NameProblem(
        message,
        "use a registered event name or add it to the taxonomy "
        "(context.aggregate.past_tense_verb, versioned)",
    )


def _rule_break(name: str) -> str:
    if not WELL_FORMED.match(name):
        return "segments must be lowercase words (a-z, 0-9, _) separated by dots"
    verb = name.rsplit(".", 1)[-1]
    return f"the last segment '{verb}' is not a past-tense verb"
