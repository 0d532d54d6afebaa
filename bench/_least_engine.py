"""The least engine: a plain forward step's work done with sagacrew's own parts, and
nothing else. The ceiling of any engine with sagacrew's features over its store.

Per step it does what sagacrew's run does for a first attempt that succeeds, with the
same parts: the :class:`StepContext` (the step's action sends its command through it, so
the envelope is built as in sagacrew), the attempt's timeout, the result's JSON check,
the ``succeeded`` step-log row and the next step's ``started`` row with their causation
ids, one transition through sagacrew's group committer and store, awaited before the
next step, the saga's data merged. A saga's creation and completion are written as
sagacrew writes them.

What it leaves out is everything sagacrew's run needs to be correct when a step does not
simply succeed: a task per saga (``wait``, restarts), the run's state and history
(resuming, retries, compensation), its outcome record (refusal, timeout, defect), the
listeners and metrics, completion events. So sagacrew / least engine says what those
cost, and least engine / hand-written is the most this design can reach.
"""

from __future__ import annotations

import time
from typing import Any

from _saga_bench import (
    STEPS,
    Run,
    Service,
    StepClock,
    definition,
    new_saga,
    run_pool,
    saga_completed,
)

from sagacrew.runtime.messages import new_ordered_id
from sagacrew.runtime.saga import StepContext, idempotency_key, transition_committer
from sagacrew.runtime.saga import transition_id as causation_of
from sagacrew.runtime.saga._history import FORWARD
from sagacrew.runtime.saga._timeouts import AttemptTimeouts
from sagacrew.runtime.store import SagaExecution, SagaTransition, StepLogEntry, encoded, open_store

TIMEOUT_S = 30.0


def _row(
    saga: SagaExecution, index: int, status: str, started_at: float, **ended: Any
) -> StepLogEntry:
    """Step ``index``'s first forward attempt's row in ``status``."""
    key = idempotency_key(saga.saga_id, index, FORWARD, 1)
    return StepLogEntry(
        saga.saga_id, index, f"step{index}", FORWARD, status, 1, True, key, started_at,
        saga.correlation_id, causation_of(key), **ended,
    )  # fmt: skip


async def run_least_engine(url: str, count: int, concurrency: int) -> Run:
    """``count`` sagas through the least engine over ``open_store(url)``."""
    clock = StepClock()
    steps = definition(clock).steps
    store = open_store(url)
    commit = transition_committer(store)
    timeouts = AttemptTimeouts()
    dispatch = Service().dispatch

    async def one(index: int) -> None:
        now = time.time()
        saga_id = new_ordered_id()
        data: dict[str, Any] = {"order_id": f"o-{index}"}
        saga = new_saga(saga_id, data, now)
        started = _row(saga, 0, "started", now)
        await commit.apply(SagaTransition(create=saga, step=started))
        for step_index, step in enumerate(steps):
            key = started.idempotency_key
            context = StepContext(
                saga_id, "bench", step.name, step_index, FORWARD, 1, key, saga_id,
                started.causation_id, data, {}, dispatch, f"{saga_id}:{step_index}:{FORWARD}",
            )  # fmt: skip
            timeout = timeouts.after(TIMEOUT_S)
            timeout.start()
            try:
                raw = await step.action(context)
            except BaseException as exc:
                timeout.finish(exc)
                raise
            timeout.finish(None)
            result = encoded(raw or {})
            now = time.time()
            done = _row(
                saga, step_index, "succeeded", started.started_at, ended_at=now,
                latency_ms=(now - started.started_at) * 1000, result=result,
            )  # fmt: skip
            data = {**data, **result}
            if step_index == STEPS - 1:
                update = saga_completed(saga_id, data, now)
                await commit.apply(SagaTransition(update=update, step=done))
            else:
                started = _row(saga, step_index + 1, "started", now)
                await commit.apply(SagaTransition(step=done, next_step=started))

    try:
        return Run(await run_pool(count, concurrency, one), clock.cycles_ms())
    finally:
        commit.flush()
        store.close()
