"""What the lint reports: one ``Finding`` per defect, with a stable rule id.

Rule ids (stable; use them in ``# sagacrew: allow SAGA-L00x`` suppressions):

- ``SAGA-L000`` the file could not be parsed (syntax error or undecodable bytes);
- ``SAGA-L001`` a compensation or handler that is a stub (only logs, returns a constant);
- ``SAGA-L002`` a message, event or external call without ``correlation_id``/``causation_id``
  (or with one ``None``/``nil``, or freshly generated inside a step);
- ``SAGA-L003`` an event name that breaks the naming rules or is not in the taxonomy;
- ``SAGA-L004`` a polling loop (sleep plus status check) instead of a completion event.
"""

from __future__ import annotations

from dataclasses import dataclass

SYNTAX = "SAGA-L000"
STUB_COMPENSATION = "SAGA-L001"
MISSING_IDS = "SAGA-L002"
UNKNOWN_EVENT = "SAGA-L003"
POLLING_LOOP = "SAGA-L004"

RULES: dict[str, str] = {
    SYNTAX: "file cannot be parsed",
    STUB_COMPENSATION: "stub compensation or handler",
    MISSING_IDS: "missing correlation_id/causation_id",
    UNKNOWN_EVENT: "event name off the naming rules or the taxonomy",
    POLLING_LOOP: "polling loop instead of a completion event",
}
"""Every rule id with a one-line title."""


@dataclass(frozen=True)
class Finding:
    """One defect found by the lint.

    ``line`` is 1-based; ``column`` is 1-based (the AST's ``col_offset`` + 1, or
    tree-sitter's column + 1 for Elixir), as in ruff and flake8 output. ``fix`` says what
    to write instead.
    """

    path: str
    line: int
    column: int
    rule: str
    message: str
    fix: str

    def __str__(self) -> str:
        """``path:line:col: RULE message; fix``."""
        return f"{self.path}:{self.line}:{self.column}: {self.rule} {self.message}; {self.fix}"


def stub_description(logs: bool, returns: str | None) -> str:
    """What a stub compensation's body does, in the words of its finding: it only logs,
    only returns something fixed (``returns``, e.g. ``"returns :ok"``), both, or nothing."""
    if logs and returns:
        return f"only logs and {returns}"
    if logs:
        return "only logs"
    if returns:
        return f"only {returns}"
    return "does nothing"
