"""Plain-text checks for LLM-written descriptions, rationales and comments.

The emitters put these strings into Python docstrings (``\"\"\"...\"\"\"``), ``#`` and
``--`` comments, JSON and Markdown. A text passes only if it cannot leave the docstring or
comment it lands in, nor change how the generated file is formatted or linted: one line, no
control or invisible format characters, no backslash or double quote (either could end or
escape a docstring), no triple quotes, no code fences, no template syntax, no HTML tags, no
lint or formatter pragmas (``noqa``, ``fmt: off``, ``sagacrew: allow``...).
"""

from __future__ import annotations

import re
import unicodedata

MAX_TEXT_CHARS = 400
"""Longest description or rationale accepted (characters)."""
MAX_WORD_CHARS = 80
"""Longest run without whitespace accepted (longer looks like an encoded blob)."""

_FORBIDDEN: tuple[tuple[str, str], ...] = (
    ('"', "a double quote (could end a docstring; use single quotes)"),
    ("\\", "a backslash (could escape a docstring's quotes)"),
    ("'''", "triple quotes"),
    ("```", "a code fence"),
    ("{{", "template syntax '{{'"),
    ("}}", "template syntax '}}'"),
    ("{%", "template syntax '{%'"),
    ("%}", "template syntax '%}'"),
    ("{#", "template syntax '{#'"),
    ("#}", "template syntax '#}'"),
    ("${", "template syntax '${'"),
)
_PRAGMA = re.compile(
    r"\b(noqa|type:\s*ignore|fmt:\s*(off|on|skip)|sagacrew:\s*allow|pragma\b|pylint:|mypy:|"
    r"ruff:|isort:|nosec|coding[:=])",
    re.IGNORECASE,
)
_HTML_TAG = re.compile(r"<\s*[A-Za-z!/?]")
_LONG_WORD = re.compile(rf"\S{{{MAX_WORD_CHARS + 1},}}")


def text_problem(text: str, *, max_chars: int = MAX_TEXT_CHARS) -> str | None:
    """Why ``text`` may not be used as a description, or ``None`` when it may."""
    if not text.strip():
        return "it is empty"
    if len(text) > max_chars:
        return f"it is {len(text)} characters long (at most {max_chars})"
    if text != text.strip():
        return "it starts or ends with whitespace"
    for char in text:
        category = unicodedata.category(char)
        if category[0] == "C" or category in ("Zl", "Zp"):
            name = unicodedata.name(char, f"U+{ord(char):04X}")
            return f"it contains the control or format character {name}"
    for needle, what in _FORBIDDEN:
        if needle in text:
            return f"it contains {what}"
    pragma = _PRAGMA.search(text)
    if pragma:
        return f"it contains the lint/formatter pragma {pragma.group(0)!r}"
    if _HTML_TAG.search(text):
        return "it contains an HTML tag"
    if _LONG_WORD.search(text):
        return f"it has a run of more than {MAX_WORD_CHARS} characters without a space"
    return None
