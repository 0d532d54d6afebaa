"""Saga definitions, retry policies and seeded fault injection."""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

import pytest

from sagacrew.runtime.saga import RetryPolicy
from sagacrew.runtime.saga import SagaDefinition
from sagacrew.runtime.saga import SagaDefinitionError
from sagacrew.runtime.saga import SagaStep
from sagacrew.runtime.saga import SeededFaults
from sagacrew.runtime.saga import StepContext
from sagacrew.runtime.saga import StepFailed


async def act(ctx: StepContext) -> Mapping[str, Any]:
    return {}


def test_retry_policy_defaults_are_documented_values() -> None:
    policy = RetryPolicy()
    assert (
        policy.max_attempts,
        policy.initial_backoff_s,
        policy.backoff_multiplier,
        policy.jitter,
        policy.max_backoff_s,
    ) == (3, 0.05, 2.0, 0.1, 2.0)


def test_delay_starts_at_initial_backoff_and_multiplies_per_attempt() -> None:
    policy = RetryPolicy(initial_backoff_s=0.1, backoff_multiplier=3.0, jitter=0.0)
    rng = random.Random(1)
    assert [policy.delay_s(n, rng) for n in (1, 2, 3)] == pytest.approx([0.1, 0.3, 0.9])


def test_delay_is_capped_at_max_backoff_even_for_huge_attempt_numbers() -> None:
    policy = RetryPolicy(initial_backoff_s=1.0, max_backoff_s=2.5, jitter=0.5)
    rng = random.Random(2)
    assert policy.delay_s(3, rng) <= 2.5
    assert policy.delay_s(5_000, rng) == 2.5


def test_jitter_stays_within_its_fraction() -> None:
    policy = RetryPolicy(initial_backoff_s=1.0, jitter=0.2, max_backoff_s=10.0)
    rng = random.Random(3)
    delays = [policy.delay_s(1, rng) for _ in range(200)]
    assert min(delays) >= 0.8 and max(delays) <= 1.2
    assert len(set(delays)) > 100


@pytest.mark.parametrize(
    "options",
    [
        {"max_attempts": 0},
        {"initial_backoff_s": -1.0},
        {"backoff_multiplier": 0.5},
        {"jitter": 1.0},
        {"max_backoff_s": -0.1},
    ],
)
def test_invalid_retry_policy_is_refused(options: dict[str, Any]) -> None:
    with pytest.raises(SagaDefinitionError, match="invalid RetryPolicy"):
        RetryPolicy(**options)


def test_definition_needs_at_least_one_step() -> None:
    with pytest.raises(SagaDefinitionError, match="no steps"):
        SagaDefinition("empty", [])


def test_definition_allows_at_most_one_pivot() -> None:
    with pytest.raises(SagaDefinitionError, match="2 pivots"):
        SagaDefinition("two", [SagaStep("a", act, pivot=True), SagaStep("b", act, pivot=True)])


def test_step_before_the_pivot_without_compensation_is_refused_with_the_fix() -> None:
    with pytest.raises(SagaDefinitionError, match="before the pivot but has no compensation"):
        SagaDefinition("s", [SagaStep("a", act), SagaStep("p", act, pivot=True)])


def test_without_pivot_every_step_needs_a_compensation() -> None:
    with pytest.raises(SagaDefinitionError, match=r"\(no pivot\)"):
        SagaDefinition("s", [SagaStep("a", act, act), SagaStep("b", act)])


def test_read_only_step_needs_no_compensation_before_the_pivot() -> None:
    definition = SagaDefinition(
        "s",
        [
            SagaStep("a", act, act),
            SagaStep("check", act, read_only=True),
            SagaStep("p", act, pivot=True),
        ],
    )
    assert definition.pivot_index == 2
    assert isinstance(definition.steps, tuple)


def test_duplicate_step_names_and_bad_timeouts_are_refused() -> None:
    with pytest.raises(SagaDefinitionError, match="duplicate step names"):
        SagaDefinition("s", [SagaStep("a", act, act), SagaStep("a", act, act)])
    with pytest.raises(SagaDefinitionError, match="timeout_s"):
        SagaDefinition("s", [SagaStep("a", act, act, timeout_s=0)])


def faults(**rates: float) -> SeededFaults:
    options = {"step_failure_rate": 0.0, "business_failure_rate": 0.0}
    options |= {"compensation_failure_rate": 0.0} | rates
    return SeededFaults(seed=7, sagas={"order": ["a", "b", "p"]}, **options)


def outcome(injector: SeededFaults, *args: Any) -> str:
    try:
        injector.before(*args)
    except StepFailed as failure:
        return "business" if not failure.retriable else "transient"
    return "ok"


def test_seeded_faults_are_a_pure_function_of_their_inputs() -> None:
    first, second = faults(step_failure_rate=0.5), faults(step_failure_rate=0.5)
    calls = [(f"s-{i}", "order", "a", "forward", n) for i in range(50) for n in (1, 2)]
    assert [outcome(first, *c) for c in calls] == [outcome(second, *c) for c in calls]
    assert {outcome(first, *c) for c in calls} == {"ok", "transient"}


def test_business_failure_hits_at_most_one_eligible_step_per_saga_at_attempt_one() -> None:
    injector = faults(business_failure_rate=1.0)
    for i in range(30):
        saga_id = f"s-{i}"
        hits = [
            s
            for s in ("a", "b", "p", "after")
            if outcome(injector, saga_id, "order", s, "forward", 1) == "business"
        ]
        assert len(hits) == 1 and hits[0] in ("a", "b", "p")
        assert outcome(injector, saga_id, "order", hits[0], "forward", 2) == "ok"


def test_zero_rates_never_fail_and_full_compensation_rate_always_fails() -> None:
    quiet = faults()
    assert outcome(quiet, "s", "order", "a", "forward", 1) == "ok"
    loud = faults(compensation_failure_rate=1.0)
    assert outcome(loud, "s", "order", "a", "compensation", 1) == "transient"
    assert outcome(loud, "s", "order", "a", "forward", 1) == "ok"


def test_bind_takes_steps_up_to_the_pivot_from_definitions() -> None:
    injector = SeededFaults(
        seed=1, step_failure_rate=0, business_failure_rate=1.0, compensation_failure_rate=0
    )
    injector.bind(
        [
            SagaDefinition(
                "s", [SagaStep("a", act, act), SagaStep("p", act, pivot=True), SagaStep("z", act)]
            )
        ]
    )
    assert injector.sagas == {"s": ("a", "p")}


def test_rates_outside_zero_one_are_refused() -> None:
    with pytest.raises(ValueError, match="step_failure_rate"):
        faults(step_failure_rate=1.5)
