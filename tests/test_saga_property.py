"""Property: for any saga shape and failure schedule, the saga ends terminal, compensates
exactly its succeeded compensatable steps in reverse order (after the step it failed at,
when that step may have acted), and applies each effect once."""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from saga_fakes import FakeClock
from saga_fakes import FakeService
from saga_fakes import ScriptedFaults
from saga_fakes import do
from saga_fakes import undo

from sagacrew.runtime.saga import RetryPolicy
from sagacrew.runtime.saga import SagaDefinition
from sagacrew.runtime.saga import SagaOrchestrator
from sagacrew.runtime.saga import SagaState
from sagacrew.runtime.saga import SagaStep
from sagacrew.runtime.store import open_store

POLICY = RetryPolicy(max_attempts=3, initial_backoff_s=1.0, jitter=0.0, max_backoff_s=4.0)


@st.composite
def sagas(draw: st.DrawFn) -> tuple[SagaDefinition, ScriptedFaults]:
    count = draw(st.integers(min_value=1, max_value=6))
    pivot = draw(st.none() | st.integers(min_value=0, max_value=count - 1))
    steps = []
    for index in range(count):
        name = f"s{index}"
        before_pivot = pivot is None or index < pivot
        read_only = before_pivot and draw(st.booleans()) and draw(st.booleans())
        steps.append(
            SagaStep(
                name=name,
                action=do(name),
                compensation=undo(name) if before_pivot and not read_only else None,
                pivot=index == pivot,
                read_only=read_only,
                retry=POLICY,
            )
        )
    definition = SagaDefinition("prop", steps, deadline_s=20.0, compensation_retry=POLICY)
    faults = ScriptedFaults()
    forward = draw(
        st.dictionaries(
            st.tuples(st.integers(0, count - 1), st.integers(1, 4)),
            st.sampled_from(["transient", "transient", "business"]),
            max_size=8,
        )
    )
    for (index, attempt), kind in forward.items():
        faults.plan[(f"s{index}", "forward", attempt)] = kind
    backward = draw(st.sets(st.tuples(st.integers(0, count - 1), st.integers(1, 3)), max_size=4))
    for index, attempt in backward:
        faults.plan[(f"s{index}", "compensation", attempt)] = "transient"
    if draw(st.booleans()):
        faults.always.add((f"s{draw(st.integers(0, count - 1))}", "forward"))
    if draw(st.integers(0, 3)) == 0:
        faults.always.add((f"s{draw(st.integers(0, count - 1))}", "compensation"))
    return definition, faults


@settings(max_examples=50, deadline=None)
@given(sagas())
def test_any_saga_ends_terminal_and_compensates_succeeded_steps_in_reverse(
    case: tuple[SagaDefinition, ScriptedFaults],
) -> None:
    definition, faults = case
    store = open_store("sqlite://:memory:")
    service = FakeService()
    clock = FakeClock()

    async def scenario() -> Any:
        orchestrator = SagaOrchestrator(
            store,
            [definition],
            dispatch=service.dispatch,
            faults=faults,
            clock=clock,
            sleep=clock.sleep,
        )
        return await orchestrator.run("prop", {})

    try:
        result = asyncio.run(scenario())
        parked = {letter.step_name for letter in store.list_dead_letters(status="parked")}
        log = store.step_log(result.saga_id)
    finally:
        store.close()

    compensation_rows = [
        row.step_name for row in log if row.phase == "compensation" and row.status == "succeeded"
    ]
    assert result.state.terminal
    assert all(count == 1 for count in service.effects.values()), service.effects
    done = service.done()
    names = [step.name for step in definition.steps]
    assert done == names[: len(done)], "forward steps run in order"
    expected = [
        name
        for name in reversed(done)
        if definition.steps[names.index(name)].compensation is not None
    ]
    # The step the saga failed at may have acted unless it was refused at once: it is
    # compensated first (here its undo is a no-op: the faults fire before it acts).
    failed = [row for row in log if row.phase == "forward" and row.status == "failed"]
    maybe_done = [
        row.step_name
        for row in failed[-1:]
        if definition.steps[row.step_index].compensation is not None
        and any(
            r.step_index == row.step_index and (r.result or {}).get("outcome") != "refused"
            for r in failed
        )
        and row.step_name not in done
    ]
    planned = maybe_done + expected
    undone = service.compensated()
    pivot = definition.pivot_index
    assert [name for name in compensation_rows if name not in maybe_done] == undone, (
        "the step log records exactly the compensations done, and the no-op undo"
    )
    if result.state is SagaState.COMPLETED:
        assert done == names and undone == [] and compensation_rows == []
    elif result.state is SagaState.STALLED:
        assert pivot is not None and names[pivot] in done and compensation_rows == []
    elif result.state is SagaState.COMPENSATED:
        assert compensation_rows == planned
        assert undone == expected
        assert pivot is None or names[pivot] not in done
    else:
        assert result.state is SagaState.COMPENSATION_FAILED
        assert compensation_rows == [name for name in planned if name in compensation_rows]
        assert parked == set(planned) - set(compensation_rows) != set()
    if result.state is not SagaState.COMPENSATION_FAILED:
        assert parked == set()
