"""The validator's exception hierarchy: every error says what to fix.

``ValidatorError`` is the root; catch it to handle any failure of the lint, the
verdict's SQL checks or the report writing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


class ValidatorError(Exception):
    """Root of every error raised by ``sagacrew.agents.validator``."""


class _PathError(ValidatorError):
    """A problem with the file at ``path``; ``str()`` is ``"path: problem; fix"``."""

    def __init__(self, path: Path | str, problem: str, fix: str) -> None:
        self.path = str(path)
        self.problem = problem
        self.fix = fix
        super().__init__(f"{self.path}: {problem}; {fix}")


class LintError(_PathError):
    """The lint could not read what it was asked to lint (missing path, unreadable file)."""


class TaxonomyError(_PathError):
    """A ``taxonomy.json`` file is missing or not shaped as ``{"events": [{"name": ...}]}``."""

    def __init__(self, path: Path | str, problem: str) -> None:
        super().__init__(
            path,
            problem,
            'write a JSON object {"events": [{"name": "context.aggregate.verb", "version": 1}, '
            "...]}",
        )


@dataclass(eq=False, repr=False)
class CheckQueryError(ValidatorError):
    """A validation query failed to run on the database: the ``check``, its ``sql`` and the
    database's error (``cause``). Equality is identity and ``repr`` an exception's."""

    check: str
    sql: str
    cause: BaseException

    def __post_init__(self) -> None:
        super().__init__(
            f"validation check {self.check!r} failed: {type(self.cause).__name__}: "
            f"{self.cause}; fix the SQL (portable SQLite/PostgreSQL, '?' placeholders) or the "
            f"schema: {self.sql}"
        )


class ReportError(_PathError):
    """A verdict report could not be written."""

    def __init__(self, path: Path | str, cause: BaseException) -> None:
        self.cause = cause
        super().__init__(
            path, f"cannot write the report ({cause})", "choose a writable output directory"
        )
