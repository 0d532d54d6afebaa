"""Naming helpers shared by the loader and the rules: did-you-mean suggestions,
identifier repair and the past-tense check for event names."""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable

IDENTIFIER_RE = re.compile(r"^[^\W\d]\w*$")
"""The same pattern as ``model.Identifier``: a letter (Unicode allowed), then word chars."""

_IRREGULAR_PAST_WORDS = """
    arisen awoken beaten became become begun bent bet bid bitten bled blown bound bred
    brought broken built burnt bought cast caught chosen clung come cost crept cut dealt
    done drawn dreamt driven drunk dug dwelt eaten fallen fed felt fought found fled flown
    forbidden forgotten forgiven frozen gave given gone got gotten ground grown hung had
    heard held hidden hit hurt kept knelt knew known laid lain led leant leapt learnt left
    lent let lit lost made meant met mistaken overcome overtaken paid proven put quit read
    rebuilt redone remade rerun reset resent retold rewritten ridden risen run rung said
    sat saw seen sent set shaken shed shone shot shown shrunk shut slain slept slid sold
    sought spent spilt split spoken spread sprung stood stolen struck stuck stung sung sunk
    sworn swept swum swung taken taught thought thrown told torn trodden undone understood
    upheld upset woken won worn wound written withdrawn withheld
"""
_IRREGULAR_PAST = frozenset(_IRREGULAR_PAST_WORDS.split())


def did_you_mean(word: str, candidates: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The candidate closest to ``word`` (difflib ratio ≥ ``cutoff``), or ``None``."""
    pool = sorted(set(candidates))
    matches = difflib.get_close_matches(word, pool, n=1, cutoff=cutoff)
    if matches:
        return matches[0]
    folded = {candidate.casefold(): candidate for candidate in pool}
    return folded.get(word.casefold())


def suggestion(word: str, candidates: Iterable[str]) -> str:
    """``"did you mean 'x'?"`` or, without a close match, the list of valid names."""
    pool = sorted(set(candidates))
    best = did_you_mean(word, pool)
    if best is not None:
        return f"did you mean '{best}'?"
    if not pool:
        return "none are declared yet"
    shown = ", ".join(pool[:12]) + (", ..." if len(pool) > 12 else "")
    return f"write one of: {shown}"


def to_identifier(text: str) -> str:
    """A snake_case identifier close to ``text``, e.g. ``"Create Order"`` → ``create_order``.

    Returns ``"name"`` when nothing usable is left.
    """
    normalized = unicodedata.normalize("NFKC", text)
    snake = re.sub(r"(?<=[^\W_])(?=[A-Z])", "_", normalized.strip())
    cleaned = re.sub(r"\W+", "_", snake).strip("_").lower()
    cleaned = re.sub(r"_+", "_", cleaned)
    if not cleaned:
        return "name"
    if not IDENTIFIER_RE.match(cleaned):
        cleaned = f"n_{cleaned}"
    return cleaned[:64]


def is_past_tense(verb: str) -> bool:
    """Whether a snake_case event verb reads as past tense.

    True when any ``_``-separated word ends in ``ed`` or is a common irregular past form
    (``sent``, ``paid``, ``built`` ...), e.g. ``approved``, ``payment_captured``, ``sent``.
    The check knows English only: a verb with non-ASCII letters (``bestätigt``) passes.
    """
    if not verb.isascii():
        return True
    words = [word for word in verb.casefold().split("_") if word]
    return any((len(word) > 2 and word.endswith("ed")) or word in _IRREGULAR_PAST for word in words)


def past_tense_of(verb: str) -> str:
    """A regular past-tense guess for a bare verb, e.g. ``approve`` → ``approved``."""
    word = verb.casefold()
    if is_past_tense(word):
        return word
    if word.endswith("e"):
        return f"{word}d"
    if word.endswith("y") and len(word) > 1 and word[-2] not in "aeiou":
        return f"{word[:-1]}ied"
    return f"{word}ed"
