"""Retry policy: attempts and exponential backoff with jitter, and the bounds of each value.

:data:`RETRY_BOUNDS` and :func:`check_retry_policy` are the one definition of what a
retry policy may hold. The runtime's :class:`RetryPolicy` refuses anything else when it
is built, and the domain spec's retry policy (``sagacrew.agents.spec``) is validated with
the same two, so a spec is refused at load for exactly what the generated package would
be refused at import.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import ClassVar, Final

from sagacrew.runtime.saga._errors import SagaDefinitionError


@dataclass(frozen=True)
class Bound:
    """The values one retry-policy field accepts: a finite number (not a boolean) at
    least ``minimum`` and, when ``below`` is set, less than ``below``; a whole number
    when ``whole`` is set."""

    minimum: float
    below: float | None = None
    whole: bool = False

    def admits(self, value: object) -> bool:
        """Whether ``value`` lies within this bound."""
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        if not math.isfinite(value) or value < self.minimum:
            return False
        if self.whole and not float(value).is_integer():
            return False
        return self.below is None or value < self.below

    def describe(self) -> str:
        """What fits, in words: ``a whole number >= 1``, ``a number in [0, 1)``."""
        kind = "a whole number" if self.whole else "a number"
        low = _number(self.minimum)
        if self.below is None:
            return f"{kind} >= {low}"
        return f"{kind} in [{low}, {_number(self.below)})"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


RETRY_BOUNDS: Final[Mapping[str, Bound]] = MappingProxyType(
    {
        "max_attempts": Bound(1, whole=True),
        "initial_backoff_s": Bound(0.0),
        "backoff_multiplier": Bound(1.0),
        "jitter": Bound(0.0, below=1.0),
        "max_backoff_s": Bound(0.0),
    }
)
"""Field of :class:`RetryPolicy` → the values it accepts.

- ``max_attempts`` >= 1: the first attempt always runs.
- ``initial_backoff_s`` and ``max_backoff_s`` >= 0: 0 retries at once (tests, local calls).
- ``backoff_multiplier`` >= 1: delays never shrink from one retry to the next.
- ``jitter`` in [0, 1): with ``jitter`` 1 a delay could be drawn as 0, turning a backoff
  into an immediate retry, which backoff exists to prevent; below 1 every delay keeps at
  least ``1 - jitter`` of itself.

Infinity and NaN fit nowhere: a delay must be a number a timer can wait for.
"""


def check_retry_policy(
    *,
    max_attempts: float,
    initial_backoff_s: float,
    backoff_multiplier: float,
    jitter: float,
    max_backoff_s: float,
) -> list[str]:
    """One problem per value outside :data:`RETRY_BOUNDS`, in field order, e.g.
    ``"jitter=1.0 (must be a number in [0, 1))"``; empty when every value fits."""
    values: dict[str, float] = {
        "max_attempts": max_attempts,
        "initial_backoff_s": initial_backoff_s,
        "backoff_multiplier": backoff_multiplier,
        "jitter": jitter,
        "max_backoff_s": max_backoff_s,
    }
    return [
        f"{name}={values[name]!r} (must be {bound.describe()})"
        for name, bound in RETRY_BOUNDS.items()
        if not bound.admits(values[name])
    ]


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a step (or compensation) is retried.

    - ``max_attempts`` (default 3): attempts in all, the first included. Steps after the
      pivot ignore it: they are retried until they succeed or the saga deadline passes.
    - ``initial_backoff_s`` (default 0.05): delay after the first failed attempt.
    - ``backoff_multiplier`` (default 2.0): each further delay is this many times longer.
    - ``jitter`` (default 0.1): each delay is moved by a random fraction in
      ``[-jitter, +jitter]`` of itself, so that retries of many sagas do not align.
    - ``max_backoff_s`` (default 2.0): no delay exceeds this, jitter included.

    Each value must lie within :data:`RETRY_BOUNDS` (also available as ``BOUNDS``);
    otherwise building the policy raises :class:`SagaDefinitionError`.
    """

    BOUNDS: ClassVar[Mapping[str, Bound]] = RETRY_BOUNDS

    max_attempts: int = 3
    initial_backoff_s: float = 0.05
    backoff_multiplier: float = 2.0
    jitter: float = 0.1
    max_backoff_s: float = 2.0

    def __post_init__(self) -> None:
        problems = check_retry_policy(
            max_attempts=self.max_attempts,
            initial_backoff_s=self.initial_backoff_s,
            backoff_multiplier=self.backoff_multiplier,
            jitter=self.jitter,
            max_backoff_s=self.max_backoff_s,
        )
        if problems:
            raise SagaDefinitionError(
                f"invalid RetryPolicy: {', '.join(problems)}; pass values within those bounds"
            )

    problems = staticmethod(check_retry_policy)
    """What :func:`check_retry_policy` finds wrong with these values (empty: nothing),
    without building a policy."""

    def delay_s(self, attempt: int, rng: random.Random) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based).

        ``initial_backoff_s * backoff_multiplier ** (attempt - 1)``, moved by up to
        ``jitter`` of itself, capped at ``max_backoff_s``.
        """
        exponent = max(attempt, 1) - 1
        try:
            base = self.initial_backoff_s * self.backoff_multiplier**exponent
        except OverflowError:
            base = float("inf")
        if self.jitter:
            base *= 1.0 + rng.uniform(-self.jitter, self.jitter)
        return max(0.0, min(base, self.max_backoff_s))
