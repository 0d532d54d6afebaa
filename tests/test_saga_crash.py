"""Crash recovery: a worker process runs sagas against a SQLite file and SIGKILLs itself at
a chosen point; a fresh process recovers; every saga must end terminal and every effect
must have happened exactly once.

Effects are events appended by a fake service through the store itself, with the command's
idempotency key stored in the same transaction (``processed_commands``), so "exactly once"
is checked on committed data. Run this file as a script to act as the worker.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

import pytest

from sagacrew.runtime.messages import Envelope
from sagacrew.runtime.saga import RetryPolicy
from sagacrew.runtime.saga import SagaDefinition
from sagacrew.runtime.saga import SagaOrchestrator
from sagacrew.runtime.saga import SagaState
from sagacrew.runtime.saga import SagaStep
from sagacrew.runtime.saga import StepContext
from sagacrew.runtime.saga import StepFailed
from sagacrew.runtime.store import DuplicateCommandError
from sagacrew.runtime.store import NewEvent
from sagacrew.runtime.store import SagaTransition
from sagacrew.runtime.store import Store
from sagacrew.runtime.store import TransitionIds
from sagacrew.runtime.store import open_store

STEPS = ["s0", "s1", "s2", "s3", "s4", "s5"]  # s4 is the pivot
SAGAS = ["ok-1", "ok-2", "fail-s3-1", "fail-s4-1", "ok-3", "fail-s2-1"]
POLICY = RetryPolicy(max_attempts=3, initial_backoff_s=0.001, jitter=0.0, max_backoff_s=0.01)


def _kill_if(crash_at: str, point: str, step: str, saga_id: str) -> None:
    """SIGKILL this process when ``point`` is the configured crash point."""
    wanted = {
        "after_started": ("started", "s2", "ok-"),
        "mid_step": ("effect:do", "s3", "ok-"),
        "before_completion": ("effect:do", "s5", "ok-"),
        "mid_compensation": ("effect:undo", "s1", "fail-s3"),
        "after_compensation_started": ("compensation_started", "s2", "fail-s3"),
    }.get(crash_at)
    if wanted == (point, step, saga_id[: len(wanted[2])] if wanted else ""):
        os.kill(os.getpid(), signal.SIGKILL)


class CrashingService:
    """Applies each command once per idempotency key by appending an event with the key."""

    def __init__(self, store: Store, crash_at: str) -> None:
        self.store = store
        self.crash_at = crash_at

    async def dispatch(self, target: str, envelope: Envelope) -> Mapping[str, Any]:
        key = envelope.idempotency_key
        assert key is not None
        stored = self.store.processed_result(key)
        if stored is not None:
            return stored
        saga_id, step = key.split(":")[0], str(envelope.payload["step"])
        stream = f"svc.{step}:{saga_id}"
        reply = {f"{step}_{envelope.name}": key}
        event = NewEvent(
            f"svc.step.{envelope.name}", {"key": key}, envelope.correlation_id, envelope.message_id
        )
        try:
            self.store.append(
                stream,
                self.store.stream_version(stream),
                [event],
                idempotency_key=key,
                result=reply,
            )
        except DuplicateCommandError as duplicate:
            return duplicate.result
        await asyncio.sleep(0)
        _kill_if(self.crash_at, f"effect:{envelope.name}", step, saga_id)
        return reply


class FailFromSagaId:
    """``fail-<step>-n`` sagas meet a business refusal at that step's first attempt."""

    def before(
        self, saga_id: str, saga_name: str, step_name: str, phase: str, attempt: int
    ) -> None:
        if phase == "forward" and attempt == 1 and saga_id.startswith(f"fail-{step_name}-"):
            raise StepFailed(f"{step_name} refused for {saga_id}", retriable=False)


def definition() -> SagaDefinition:
    def action(name: str, command: str) -> Any:
        async def run(ctx: StepContext) -> Mapping[str, Any]:
            return await ctx.send("svc", command, {"step": name})

        return run

    return SagaDefinition(
        "crashy",
        [
            SagaStep(
                name,
                action(name, "do"),
                action(name, "undo") if index < 4 else None,
                pivot=index == 4,
                retry=POLICY,
            )
            for index, name in enumerate(STEPS)
        ],
        deadline_s=60.0,
        compensation_retry=POLICY,
    )


def worker(url: str, mode: str, crash_at: str) -> None:
    store = open_store(url)
    original = store.apply_saga_transition

    def check(transition: SagaTransition) -> None:
        for step in (transition.step, transition.next_step):
            if step is not None and step.status == "started":
                point = "started" if step.phase == "forward" else "compensation_started"
                _kill_if(crash_at, point, step.step_name, step.saga_id)

    def persisted(transition: SagaTransition) -> TransitionIds:
        ids = original(transition)
        check(transition)
        return ids

    def persisted_batch(transitions: Sequence[SagaTransition]) -> list[TransitionIds]:
        ids = original_batch(transitions)
        for transition in transitions:
            check(transition)
        return ids

    original_batch = store.apply_saga_transitions
    store.apply_saga_transition = persisted  # type: ignore[method-assign]
    store.apply_saga_transitions = persisted_batch  # type: ignore[method-assign]
    service = CrashingService(store, crash_at)

    async def main() -> None:
        orchestrator = SagaOrchestrator(
            store, [definition()], dispatch=service.dispatch, faults=FailFromSagaId()
        )
        if mode == "run":
            # All started in one commit, before any saga reaches a crash point.
            ids = list(
                await asyncio.gather(
                    *(orchestrator.start("crashy", {}, saga_id=saga_id) for saga_id in SAGAS)
                )
            )
        else:
            ids = await orchestrator.recover()
        for saga_id in ids:
            await orchestrator.wait(saga_id)

    asyncio.run(main())
    store.close()


def launch(url: str, mode: str, crash_at: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, __file__, url, mode, crash_at],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    "crash_at",
    [
        "after_started",
        "mid_step",
        "before_completion",
        "mid_compensation",
        "after_compensation_started",
    ],
)
def test_killed_worker_recovers_every_saga_with_effects_exactly_once(
    store_url: str, crash_at: str
) -> None:
    crashed = launch(store_url, "run", crash_at)
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    store = open_store(store_url)
    try:
        unfinished = store.list_sagas(["running", "waiting", "compensating"])
        assert unfinished, "the crash must leave sagas in flight"
    finally:
        store.close()

    recovered = launch(store_url, "recover", "none")
    assert recovered.returncode == 0, recovered.stderr

    store = open_store(store_url)
    try:
        sagas = {saga.saga_id: saga for saga in store.list_sagas()}
        assert set(sagas) == set(SAGAS)
        effects = Counter((e.stream_id, e.event_type) for e in store.read_all(limit=10_000))
        assert set(effects.values()) == {1}, f"an effect happened twice: {effects}"
        for saga_id, saga in sagas.items():
            state = SagaState(saga.state)
            log = store.step_log(saga_id)
            done = {r.step_name for r in log if r.phase == "forward" and r.status == "succeeded"}
            undone = {
                r.step_name for r in log if r.phase == "compensation" and r.status == "succeeded"
            }
            applied_do = {s for s in STEPS if effects[(f"svc.{s}:{saga_id}", "svc.step.do")]}
            applied_undo = {s for s in STEPS if effects[(f"svc.{s}:{saga_id}", "svc.step.undo")]}
            assert applied_do == done, saga_id
            assert applied_undo == undone, saga_id
            if saga_id.startswith("ok-"):
                assert state is SagaState.COMPLETED, (saga_id, saga.state)
                assert done == set(STEPS)
            else:
                failing = saga_id.split("-")[1]
                assert state is SagaState.COMPENSATED, (saga_id, saga.state)
                assert done == set(STEPS[: STEPS.index(failing)])
                assert undone == done
                order = [
                    r.step_name
                    for r in log
                    if r.phase == "compensation" and r.status == "succeeded"
                ]
                assert order == sorted(done, reverse=True)
    finally:
        store.close()


if __name__ == "__main__":
    worker(sys.argv[1], sys.argv[2], sys.argv[3])
