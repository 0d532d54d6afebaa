"""The spec package's exceptions: one problem (``SpecError``), all problems of a file
(``SpecErrors``), and a bad expression (``ExpressionError``), under one base class.

Every error says what is wrong and what to write instead, so a user can fix the spec
without reading a traceback.
"""

from __future__ import annotations

from collections.abc import Iterable


class SpecException(Exception):
    """Base of every exception raised by ``sagacrew.agents.spec``."""


class _Fixable(SpecException):
    """A problem: ``message`` says what is wrong, ``fix`` what to write instead.
    ``str()`` is ``"message; fix"``, after the place where a subclass has one."""

    def __init__(self, message: str, fix: str) -> None:
        self.message = message
        self.fix = fix
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"{self.message}; {self.fix}"


class SpecError(_Fixable):
    """One problem in a spec file, at a 1-based ``line`` and ``column``.

    ``message`` says what is wrong, ``fix`` what to write instead. ``str()`` is exactly
    ``"file:line:col: message; fix"``.
    """

    def __init__(self, file: str, line: int, column: int, message: str, fix: str) -> None:
        self.file = file
        self.line = line
        self.column = column
        super().__init__(message, fix)

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {super().__str__()}"

    def __repr__(self) -> str:
        return f"SpecError({str(self)!r})"

    def sort_key(self) -> tuple[str, int, int, str]:
        """Position first, then the message, so reports are stable."""
        return (self.file, self.line, self.column, self.message)


class SpecErrors(SpecException):
    """All problems of one spec file, sorted by position; ``str()`` is one line per error."""

    def __init__(self, errors: Iterable[SpecError]) -> None:
        unique: dict[str, SpecError] = {}
        for error in errors:
            unique.setdefault(str(error), error)
        self.errors: list[SpecError] = sorted(unique.values(), key=SpecError.sort_key)
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join(str(error) for error in self.errors)

    def __repr__(self) -> str:
        return f"SpecErrors({len(self.errors)} errors)"


class ExpressionError(_Fixable):
    """An expression of the spec's small language that cannot be compiled.

    ``offset`` is the 0-based character offset of the problem within ``expression``.
    ``str()`` is ``"message; fix"``.
    """

    def __init__(self, expression: str, offset: int, message: str, fix: str) -> None:
        self.expression = expression
        self.offset = offset
        super().__init__(message, fix)
