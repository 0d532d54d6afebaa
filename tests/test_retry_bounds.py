"""One retry policy: the spec accepts exactly what the runtime's ``RetryPolicy`` accepts,
with the runtime's defaults, and refuses the rest at load with a located one-line error
(not when the generated package is imported)."""

from __future__ import annotations

import dataclasses
import math
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from sagacrew.agents.spec import RetryPolicy as SpecRetryPolicy
from sagacrew.agents.spec import SpecErrors
from sagacrew.agents.spec import load_spec
from sagacrew.runtime.saga import RETRY_BOUNDS
from sagacrew.runtime.saga import RetryPolicy
from sagacrew.runtime.saga import SagaDefinitionError
from sagacrew.runtime.saga import check_retry_policy

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "bank_transfer.yaml"
FIELDS = [field.name for field in dataclasses.fields(RetryPolicy)]


def runtime_accepts(values: dict[str, Any]) -> bool:
    try:
        RetryPolicy(**values)
    except SagaDefinitionError:
        return False
    return True


def spec_accepts(values: dict[str, Any]) -> bool:
    try:
        SpecRetryPolicy.model_validate(values)
    except ValidationError:
        return False
    return True


def boundary_values(name: str) -> list[float]:
    """Values at, just inside and just outside each end of ``name``'s bound, and beyond."""
    bound = RETRY_BOUNDS[name]
    ends = [bound.minimum] + ([bound.below] if bound.below is not None else [])
    values: list[float] = [math.nan, math.inf, -math.inf, -1.0, 0.0, 0.5, 1.0, 1.5, 1e9]
    for end in ends:
        values += [end, math.nextafter(end, -math.inf), math.nextafter(end, math.inf), end - 1]
    return values


def spec_with_retry(tmp_path: Path, old: str, new: str) -> tuple[Path, int]:
    """The bank transfer example with ``old`` replaced by ``new`` in its saga's retry
    line; the file and that line's number."""
    lines = EXAMPLE.read_text("utf-8").splitlines()
    number = next(i for i, line in enumerate(lines, 1) if line.strip().startswith("retry:"))
    assert old in lines[number - 1]
    lines[number - 1] = lines[number - 1].replace(old, new)
    path = tmp_path / "spec.yaml"
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path, number


def test_a_spec_with_jitter_one_is_refused_at_load_naming_line_and_fix(tmp_path: Path) -> None:
    path, line = spec_with_retry(tmp_path, "jitter: 0.1", "jitter: 1.0")
    with pytest.raises(SpecErrors) as caught:
        load_spec(path)
    [error] = caught.value.errors
    assert (error.file, error.line) == (str(path), line)
    assert error.message == "jitter must be less than 1.0 (got 1.0)"
    assert error.fix == "write e.g. `jitter: 0.1`"
    assert "\n" not in str(error)


def test_a_spec_with_a_zero_first_delay_loads_as_the_runtime_allows(tmp_path: Path) -> None:
    path, _ = spec_with_retry(tmp_path, "initial_backoff_s: 0.005", "initial_backoff_s: 0")
    policy = load_spec(path).sagas["transfer_money"].retry
    assert policy.initial_backoff_s == 0
    assert RetryPolicy(**policy.model_dump()).delay_s(1, random.Random(1)) == 0


@pytest.mark.parametrize("name", FIELDS)
def test_every_boundary_value_is_accepted_by_both_or_by_neither(name: str) -> None:
    assert set(RETRY_BOUNDS) == set(FIELDS) == set(SpecRetryPolicy.model_fields)
    for value in boundary_values(name):
        values = {name: value}
        assert spec_accepts(values) == runtime_accepts(values), f"{name}={value!r}"
        assert runtime_accepts(values) == RETRY_BOUNDS[name].admits(value), f"{name}={value!r}"


@pytest.mark.parametrize(
    ("name", "value", "accepted"),
    [
        ("max_attempts", 1, True),
        ("max_attempts", 0, False),
        ("max_attempts", 1.5, False),
        ("initial_backoff_s", 0.0, True),
        ("initial_backoff_s", -0.001, False),
        ("initial_backoff_s", math.inf, False),
        ("backoff_multiplier", 1.0, True),
        ("backoff_multiplier", 0.999, False),
        ("jitter", 0.0, True),
        ("jitter", 0.999, True),
        ("jitter", 1.0, False),
        ("jitter", math.nan, False),
        ("max_backoff_s", 0.0, True),
        ("max_backoff_s", math.inf, False),
    ],
)
def test_the_bounds_are_the_documented_ones(name: str, value: float, accepted: bool) -> None:
    assert runtime_accepts({name: value}) is accepted
    assert spec_accepts({name: value}) is accepted


@given(
    st.fixed_dictionaries(
        {},
        optional={
            "max_attempts": st.integers(-3, 10),
            "initial_backoff_s": st.floats(allow_nan=True, allow_infinity=True),
            "backoff_multiplier": st.floats(-2.0, 4.0),
            "jitter": st.floats(-0.5, 1.5),
            "max_backoff_s": st.floats(allow_nan=True, allow_infinity=True),
        },
    )
)
def test_any_policy_is_accepted_by_both_or_by_neither(values: dict[str, Any]) -> None:
    assert spec_accepts(values) == runtime_accepts(values)


def test_the_spec_defaults_are_the_runtime_defaults() -> None:
    assert SpecRetryPolicy().model_dump() == dataclasses.asdict(RetryPolicy())


def test_the_runtime_error_is_one_line_naming_each_value_and_its_bound() -> None:
    with pytest.raises(SagaDefinitionError) as caught:
        RetryPolicy(max_attempts=0, jitter=1.0)
    message = str(caught.value)
    assert message == (
        "invalid RetryPolicy: max_attempts=0 (must be a whole number >= 1), "
        "jitter=1.0 (must be a number in [0, 1)); pass values within those bounds"
    )
    problems = check_retry_policy(
        max_attempts=3, initial_backoff_s=0.05, backoff_multiplier=2.0, jitter=0.1,
        max_backoff_s=math.nan,
    )  # fmt: skip
    assert problems == ["max_backoff_s=nan (must be a number >= 0)"]
    assert RetryPolicy.problems(**dataclasses.asdict(RetryPolicy())) == []
