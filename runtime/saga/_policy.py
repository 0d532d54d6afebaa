"""Retry policy: attempts and exponential backoff with jitter."""

from __future__ import annotations

import random
from dataclasses import dataclass

from sagacrew.runtime.saga._errors import SagaDefinitionError


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
    """

    max_attempts: int = 3
    initial_backoff_s: float = 0.05
    backoff_multiplier: float = 2.0
    jitter: float = 0.1
    max_backoff_s: float = 2.0

    def __post_init__(self) -> None:
        problems = []
        if self.max_attempts < 1:
            problems.append(f"max_attempts={self.max_attempts} (must be >= 1)")
        if self.initial_backoff_s < 0:
            problems.append(f"initial_backoff_s={self.initial_backoff_s} (must be >= 0)")
        if self.backoff_multiplier < 1:
            problems.append(f"backoff_multiplier={self.backoff_multiplier} (must be >= 1)")
        if not 0 <= self.jitter < 1:
            problems.append(f"jitter={self.jitter} (must be in [0, 1))")
        if self.max_backoff_s < 0:
            problems.append(f"max_backoff_s={self.max_backoff_s} (must be >= 0)")
        if problems:
            raise SagaDefinitionError(f"invalid RetryPolicy: {', '.join(problems)}")

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
