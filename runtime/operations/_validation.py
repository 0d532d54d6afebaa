"""Validation hooks: how rollback and remediation ask the Consistency Validator for a verdict.

The runtime does not know the validator (it lives with the agents); callers pass a
``validate`` callable returning a bool, a :class:`Validation`, or any verdict object with
a boolean ``passed`` (e.g. the validator's ``Verdict``); it may be a coroutine function.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

logger = logging.getLogger("sagacrew.runtime.operations")


@runtime_checkable
class VerdictLike(Protocol):
    """Anything with a boolean ``passed``: the validator's ``Verdict`` qualifies."""

    @property
    def passed(self) -> bool:
        """True when the validation passed."""
        ...


@dataclass(frozen=True)
class Validation:
    """A validation's outcome: ``passed`` and a one-line ``detail`` for the reports."""

    passed: bool
    detail: str = ""


ValidationResult = bool | VerdictLike
Validate = Callable[[], ValidationResult | Awaitable[ValidationResult]]
"""``validate()``: re-run the consistency validation (sync or async)."""


def _describe(result: ValidationResult) -> Validation:
    if isinstance(result, Validation):
        return result
    if isinstance(result, bool):
        return Validation(result, "validation passed" if result else "validation failed")
    passed = bool(result.passed)
    score = getattr(result, "consistency_score", None)
    detail = getattr(result, "detail", None)
    if isinstance(detail, str) and detail:
        text = detail
    elif isinstance(score, float):
        text = f"consistency score {score * 100:.2f} %"
    else:
        text = type(result).__name__
    return Validation(passed, f"{'passed' if passed else 'failed'}: {text}")


async def run_validation(validate: Validate) -> Validation:
    """Call ``validate`` (awaiting it when it returns an awaitable) and normalise the
    answer. A validation that raises counts as failed; its error is the detail (and is
    logged with the traceback): a broken validator never lets a system resume."""
    try:
        answer = validate()
        if inspect.isawaitable(answer):
            answer = await answer
        return _describe(answer)
    except Exception as error:
        logger.exception("validation raised")
        return Validation(False, f"validation raised {type(error).__name__}: {error}")
