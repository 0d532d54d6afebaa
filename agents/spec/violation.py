"""A problem found in a spec, located by its path in the data rather than by line.

The loader turns violations into :class:`SpecError` using the YAML source map; rules and
the pydantic error translation only deal in paths, so they work on specs built in code.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["Path", "Violation", "duplicate_name"]

Path = tuple[str | int, ...]
"""A path into the spec data: mapping keys and list indices, as in pydantic's ``loc``."""


@dataclass(frozen=True)
class Violation:
    """One problem: where (``path``), what is wrong (``message``), what to write (``fix``).

    ``at_key`` points at the key of the entry rather than its value (unknown fields,
    bad names); ``offset`` is a character offset inside a one-line plain scalar (the
    position of an error inside an expression).
    """

    path: Path
    message: str
    fix: str
    at_key: bool = False
    offset: int = 0


def duplicate_name(
    seen: set[str], name: str, path: Path, what: str, fix: str
) -> Iterator[Violation]:
    """A violation at the ``name`` key under ``path`` when ``name`` is in ``seen`` already
    (``duplicate <what> name '<name>'``); ``name`` is then added to ``seen``."""
    if name in seen:
        yield Violation((*path, "name"), f"duplicate {what} name '{name}'", fix)
    seen.add(name)
