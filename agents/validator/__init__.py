"""Consistency Validator, verify side: the lint, the built-in checks and the verdict.

- ``lint_source`` / ``lint_path`` find the seed's saga defects in Python and Elixir code
  (``SAGA-L001`` stub compensations, ``SAGA-L002`` missing correlation/causation ids,
  ``SAGA-L003`` event names off the naming rules or the taxonomy, ``SAGA-L004`` polling
  loops); ``render`` writes them as text, JSON or SARIF 2.1.0, ``summary`` counts them;
- ``builtin_queries`` is the SQL every system is checked with;
- ``compute_verdict`` measures a run's tables against a threshold profile;
  ``write_reports`` and ``record_verdict`` publish the result.

The planning half (``planner``) is imported from its own module.
"""

from sagacrew.agents.validator.db import SqlRunner
from sagacrew.agents.validator.errors import (
    CheckQueryError,
    LintError,
    ReportError,
    TaxonomyError,
    ValidatorError,
)
from sagacrew.agents.validator.findings import RULES, Finding
from sagacrew.agents.validator.lint import lint_path, lint_source, load_taxonomy
from sagacrew.agents.validator.lint_formats import FORMATS, Format, render, summary
from sagacrew.agents.validator.metrics import percentile_nearest_rank
from sagacrew.agents.validator.queries import TERMINAL_STATES, builtin_queries
from sagacrew.agents.validator.report import record_verdict, render_markdown, write_reports
from sagacrew.agents.validator.verdict import (
    CheckResult,
    Gate,
    RedeployOutcome,
    ScenarioOutcome,
    Verdict,
    compute_verdict,
    run_check,
)

__all__ = [
    "FORMATS",
    "RULES",
    "TERMINAL_STATES",
    "CheckQueryError",
    "CheckResult",
    "Finding",
    "Format",
    "Gate",
    "LintError",
    "RedeployOutcome",
    "ReportError",
    "ScenarioOutcome",
    "SqlRunner",
    "TaxonomyError",
    "ValidatorError",
    "Verdict",
    "builtin_queries",
    "compute_verdict",
    "lint_path",
    "lint_source",
    "load_taxonomy",
    "percentile_nearest_rank",
    "record_verdict",
    "render",
    "render_markdown",
    "run_check",
    "summary",
    "write_reports",
]
