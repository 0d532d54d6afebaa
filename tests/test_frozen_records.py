"""Records built by ``fast_init`` behave as the frozen dataclasses they are: same
parameters and defaults, fresh default factories, still frozen, equal and hashable."""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from typing import ClassVar

import pytest

from sagacrew.runtime._frozen import fast_init
from sagacrew.runtime.store import NewEvent
from sagacrew.runtime.store import SagaTransition
from sagacrew.runtime.store import StepLogEntry


def _entry(**changes: Any) -> StepLogEntry:
    values: dict[str, Any] = {
        "saga_id": "s-1",
        "step_index": 0,
        "step_name": "reserve",
        "phase": "forward",
        "status": "started",
        "attempt": 1,
        "compensatable": True,
        "idempotency_key": "s-1:0:forward:1",
        "started_at": 1.0,
        "correlation_id": "c-1",
        "causation_id": "t-1",
    }
    return StepLogEntry(**{**values, **changes})


def test_a_record_takes_its_fields_by_position_or_name_with_its_defaults() -> None:
    by_name = _entry(error="boom")
    by_position = StepLogEntry(
        "s-1", 0, "reserve", "forward", "started", 1, True, "s-1:0:forward:1", 1.0, "c-1",
        "t-1", None, None, "boom",
    )  # fmt: skip
    assert by_name == by_position
    assert hash(by_name) == hash(by_position)
    assert (by_name.result, by_name.seq, by_name.error) == (None, None, "boom")
    assert dataclasses.replace(by_name, status="succeeded").status == "succeeded"


def test_a_record_stays_frozen() -> None:
    entry = _entry()
    with pytest.raises(dataclasses.FrozenInstanceError):
        entry.status = "succeeded"  # type: ignore[misc]
    assert entry.status == "started"


def test_a_default_factory_runs_for_each_record() -> None:
    first = NewEvent("placed", {}, "c-1", "c-1")
    second = NewEvent("placed", {}, "c-1", "c-1")
    assert first.message_id != second.message_id
    assert first.metadata == {} and first.metadata is not second.metadata


def test_the_parameters_are_those_dataclass_made() -> None:
    @dataclass(frozen=True)
    class Plain:
        a: int
        b: str = "x"
        c: list[int] = field(default_factory=list)

    made = inspect.signature(Plain.__init__).parameters
    fast = inspect.signature(fast_init(Plain).__init__).parameters
    assert [(p.name, p.kind) for p in fast.values()] == [(p.name, p.kind) for p in made.values()]
    assert (fast["a"].default, fast["b"].default) == (inspect.Parameter.empty, "x")
    assert Plain(1) == Plain(1, "x", []) == Plain(a=1, c=[])
    assert SagaTransition() == SagaTransition(None, None, None, None, None, None, None, None)


def test_what_it_cannot_build_is_refused_when_the_class_is_defined() -> None:
    @dataclass
    class Mutable:
        a: int

    @dataclass(frozen=True)
    class Checked:
        a: int

        def __post_init__(self) -> None:
            assert self.a > 0

    @dataclass(frozen=True)
    class KeywordOnly:
        a: int = field(kw_only=True)

    @dataclass(frozen=True)
    class WithClassVar:
        a: int
        limit: ClassVar[int] = 3

    @dataclass(frozen=True)
    class Hidden:
        a: int
        b: int = field(default=0, init=False)

    for cls in (Mutable, Checked, KeywordOnly, Hidden):
        with pytest.raises(TypeError, match=cls.__name__):
            fast_init(cls)
    assert fast_init(WithClassVar)(2).a == 2


def test_a_slots_record_keeps_its_slots_and_behaves_the_same() -> None:
    @dataclass(frozen=True, slots=True)
    class Slotted:
        a: int
        b: str = "x"
        c: list[int] = field(default_factory=list)

    made = Slotted(1)
    fast = fast_init(Slotted)
    first, second = fast(1), fast(a=1, b="x")
    assert first == second == made
    assert not hasattr(first, "__dict__")
    assert first.c == [] and first.c is not second.c
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.a = 2  # type: ignore[misc]
    assert repr(fast(2, "y", [3])).endswith("Slotted(a=2, b='y', c=[3])")
