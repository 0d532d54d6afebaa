"""Errors as an operator may read them on the status API: one short line, with the
saga's own values, its ids and anything that looks like a secret taken out.

Step errors are written by code the runtime does not control (a gateway, a business
rule) and may quote the saga's input ("order ORDER-7 of consumer C-42 refused") or a
credential ("401 for token=abc..."). :func:`short_error` keeps what explains the failure
and replaces the rest with ``…``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Final

MAX_ERROR_CHARS: Final = 160
"""The longest error the status API returns (longer ones end with ``…``)."""

HIDDEN: Final = "…"
"""What a removed value is replaced with."""

_MIN_VALUE_CHARS = 4
"""Saga values shorter than this are left in place (``1``, ``yes``: they identify no one
and removing them would garble the message)."""

_SECRET = re.compile(
    r"(?i)\b(password|passwd|secret|token|api[_-]?key|authorization|bearer|signature)"
    r"(\s*[:=]\s*|\s+)(\"[^\"]*\"|'[^']*'|[^\s,;)]+)"
)
_URL_CREDENTIALS = re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://)[^/\s@]+@")
_LONG_TOKEN = re.compile(r"\b(?=[A-Za-z_\-]*\d)[A-Za-z0-9_\-]{24,}\b")
"""A run of 24 or more letters and digits with a digit in it: a key, a hash, an id."""


def saga_values(data: Mapping[str, Any]) -> list[str]:
    """Every string and number in ``data`` (nested too) long enough to identify someone,
    as text, longest first (so that a value containing another is removed whole)."""
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, Mapping):
            for item in value.values():
                walk(item)
        elif isinstance(value, list | tuple):
            for item in value:
                walk(item)
        elif isinstance(value, bool) or value is None:
            return
        elif isinstance(value, str | int | float):
            text = str(value)
            if len(text) >= _MIN_VALUE_CHARS:
                found.add(text)

    walk(data)
    return sorted(found, key=lambda text: (-len(text), text))


def short_error(text: str | None, hidden: Iterable[str] = ()) -> str | None:
    """``text`` as one line of at most :data:`MAX_ERROR_CHARS` characters, each of
    ``hidden`` (the saga's values and ids), every ``key=secret``, URL credentials and long
    tokens replaced by ``…``; ``None`` for no text."""
    if text is None:
        return None
    line = " ".join(text.split())
    for value in hidden:
        if value:
            line = line.replace(value, HIDDEN)
    line = _SECRET.sub(lambda match: f"{match[1]}{match[2]}{HIDDEN}", line)
    line = _URL_CREDENTIALS.sub(lambda match: f"{match[1]}{HIDDEN}@", line)
    line = _LONG_TOKEN.sub(HIDDEN, line)
    if len(line) > MAX_ERROR_CHARS:
        line = line[: MAX_ERROR_CHARS - 1].rstrip() + HIDDEN
    return line
