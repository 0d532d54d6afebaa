"""Fault injection for steps and compensations: a protocol and the seeded injector."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Protocol

from sagacrew.runtime.saga._definition import SagaDefinition
from sagacrew.runtime.saga._errors import StepFailed


class FaultInjector(Protocol):
    """Called before every attempt of an action or compensation; may raise StepFailed."""

    def before(
        self, saga_id: str, saga_name: str, step_name: str, phase: str, attempt: int
    ) -> None: ...


def _unit(*parts: object) -> float:
    """A number in [0, 1) determined by ``parts`` alone (BLAKE2b of their repr)."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


class SeededFaults:
    """The run workload's injector: every decision is a hash of (seed, saga_id, step,
    phase, attempt), not a shared RNG, so a recovered saga meets the same faults.

    - ``step_failure_rate``: probability that a forward attempt fails transiently
      (``StepFailed(retriable=True)`` before the action runs).
    - ``business_failure_rate``: probability that a saga meets one business refusal
      (``StepFailed(retriable=False)``) at attempt 1 of one step chosen by hash among the
      steps up to and including the pivot (every step, without a pivot).
    - ``compensation_failure_rate``: probability that a compensation attempt fails
      transiently.
    - ``sagas``: saga name -> the step names eligible for the business refusal. When
      ``None``, :class:`SagaOrchestrator` fills it from its definitions (``bind``).
    """

    def __init__(
        self,
        *,
        seed: int,
        step_failure_rate: float,
        business_failure_rate: float,
        compensation_failure_rate: float,
        sagas: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        for name, rate in (
            ("step_failure_rate", step_failure_rate),
            ("business_failure_rate", business_failure_rate),
            ("compensation_failure_rate", compensation_failure_rate),
        ):
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"{name}={rate} must be within [0, 1]")
        self.seed = seed
        self.step_failure_rate = step_failure_rate
        self.business_failure_rate = business_failure_rate
        self.compensation_failure_rate = compensation_failure_rate
        self.sagas: dict[str, tuple[str, ...]] | None = (
            None if sagas is None else {name: tuple(steps) for name, steps in sagas.items()}
        )

    def bind(self, definitions: Sequence[SagaDefinition]) -> None:
        """Fill ``sagas`` from definitions, unless it was given: steps up to the pivot."""
        if self.sagas is not None:
            return
        self.sagas = {}
        for definition in definitions:
            pivot = definition.pivot_index
            steps = definition.steps if pivot is None else definition.steps[: pivot + 1]
            self.sagas[definition.name] = tuple(step.name for step in steps)

    def business_failure_step(self, saga_id: str, saga_name: str) -> str | None:
        """The step that refuses in this saga, or ``None``."""
        eligible = (self.sagas or {}).get(saga_name, ())
        if not eligible or _unit(self.seed, saga_id, "business") >= self.business_failure_rate:
            return None
        index = int(_unit(self.seed, saga_id, "business-step") * len(eligible))
        return eligible[index]

    def before(
        self, saga_id: str, saga_name: str, step_name: str, phase: str, attempt: int
    ) -> None:
        """Raise the injected failure for this attempt, if any."""
        if phase == "compensation":
            if _unit(self.seed, saga_id, step_name, phase, attempt) < (
                self.compensation_failure_rate
            ):
                raise StepFailed(f"injected transient failure of compensation {step_name!r}")
            return
        if attempt == 1 and self.business_failure_step(saga_id, saga_name) == step_name:
            raise StepFailed(f"injected business refusal of step {step_name!r}", retriable=False)
        if _unit(self.seed, saga_id, step_name, phase, attempt) < self.step_failure_rate:
            raise StepFailed(f"injected transient failure of step {step_name!r}")
