"""How the spec's system is run and judged: retry policies, the verdict's threshold
profiles, and the workload ``run`` and ``verify`` execute (part of the spec model)."""

from __future__ import annotations

from typing import Any, Literal, Self

from pydantic import Field, PositiveFloat, PositiveInt, model_validator

from sagacrew.agents.spec.model_base import Strict as _Strict
from sagacrew.runtime.saga import RetryPolicy as RuntimeRetryPolicy

__all__ = ["RetryPolicy", "Thresholds", "Workload", "default_profiles"]


_RUNTIME_RETRY = RuntimeRetryPolicy()
"""The runtime's default retry policy: the spec's defaults are its values."""


def _retry_field(name: str) -> Any:
    """A spec field for the runtime retry policy's field ``name``: the runtime's default
    and bounds (:data:`RuntimeRetryPolicy.BOUNDS`), so both accept the same values."""
    bound = RuntimeRetryPolicy.BOUNDS[name]
    return Field(
        default=getattr(_RUNTIME_RETRY, name),
        ge=bound.minimum,
        lt=bound.below,
        allow_inf_nan=None if bound.whole else False,  # whole numbers are finite already
    )


class RetryPolicy(_Strict):
    """How a step is retried: attempts, exponential backoff, jitter, maximum delay.

    Defaults: 3 attempts, 0.05 s first delay, ×2 each retry, ±10 % jitter, 2 s at most.
    The defaults and the values allowed are the runtime's
    (:class:`sagacrew.runtime.RetryPolicy`): attempts >= 1, delays >= 0, multiplier >= 1,
    jitter in [0, 1), every number finite.
    """

    max_attempts: int = _retry_field("max_attempts")
    initial_backoff_s: float = _retry_field("initial_backoff_s")
    backoff_multiplier: float = _retry_field("backoff_multiplier")
    jitter: float = _retry_field("jitter")
    max_backoff_s: float = _retry_field("max_backoff_s")

    @model_validator(mode="after")
    def _runtime_accepts(self) -> Self:
        """Refuse what the runtime's policy would refuse when the generated package loads."""
        problems = RuntimeRetryPolicy.problems(**self.model_dump())
        if problems:
            raise ValueError(f"the runtime refuses {', '.join(problems)}")
        return self


class Thresholds(_Strict):
    """The verdict's gates. Defaults are the stage dossier's numbers."""

    success_rate_min: float = Field(ge=0.0, le=1.0)
    step_latency_p95_ms_max: PositiveFloat = 200.0
    step_latency_p99_ms_max: PositiveFloat = 500.0
    consistency_score_min: float = Field(ge=0.0, le=1.0)


def default_profiles() -> dict[Literal["dev", "prod"], Thresholds]:
    return {
        "dev": Thresholds(success_rate_min=0.90, consistency_score_min=0.95),
        "prod": Thresholds(success_rate_min=0.995, consistency_score_min=0.999),
    }


class Workload(_Strict):
    """What ``sagacrew run`` executes: sagas per saga type and the injected faults.

    ``step_failure_rate`` makes a step's action fail before any effect (transient:
    retried); ``business_failure_rate`` is the share of sagas that meet one business
    refusal, at one step up to the pivot chosen by hash (the saga compensates);
    ``compensation_failure_rate`` makes a compensation fail transiently;
    ``duplicate_delivery_rate`` delivers a command twice (idempotency keys make it act once);
    ``lost_reply_rate`` loses the reply of a command that acted, so the step times out and
    its retry must not act again; ``crash_after`` (a share of the sagas) kills the process
    running a second workload with SIGKILL, and verify restarts it and checks every saga
    ends.
    The seed makes runs reproducible.
    """

    sagas_per_type: PositiveInt = 40
    seed: int = 7
    step_failure_rate: float = Field(default=0.05, ge=0.0, le=1.0)
    business_failure_rate: float = Field(default=0.03, ge=0.0, le=1.0)
    compensation_failure_rate: float = Field(default=0.05, ge=0.0, le=1.0)
    duplicate_delivery_rate: float = Field(default=0.1, ge=0.0, le=1.0)
    lost_reply_rate: float = Field(default=0.02, ge=0.0, le=1.0)
    crash_after: float = Field(default=0.5, ge=0.0, le=1.0)
