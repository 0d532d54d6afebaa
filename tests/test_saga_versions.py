"""Sagas keep the plan they started on across a redeploy: each execution records its
definition's version; recovery, compensation and redrive follow that version (kept as an
earlier definition) while new sagas start on the newest; a process lacking the version
refuses to drive it, and workers leave it to one that has it."""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from async_helpers import async_test
from async_helpers import run
from saga_fakes import FakeService
from saga_fakes import ObservedStore
from saga_fakes import do
from saga_fakes import undo

from sagacrew.runtime import Envelope
from sagacrew.runtime.saga import RetryPolicy
from sagacrew.runtime.saga import SagaDefinition
from sagacrew.runtime.saga import SagaDefinitionError
from sagacrew.runtime.saga import SagaOrchestrator
from sagacrew.runtime.saga import SagaState
from sagacrew.runtime.saga import SagaStep
from sagacrew.runtime.store import open_store

ONCE = RetryPolicy(max_attempts=1, initial_backoff_s=0.01, backoff_multiplier=1.0, jitter=0.0)


def plan(version: str, *names: str, pivot: str = "c", undo_command: str = "undo") -> SagaDefinition:
    """Steps ``names`` (compensated by ``undo_command`` up to the pivot), version ``version``."""

    def compensation(name: str) -> Any:
        action = undo(name)
        if undo_command == "undo":
            return action

        async def cancel(ctx: Any) -> Any:
            return await ctx.send("svc", undo_command, {"step": name, "undoes": ctx.forward_key})

        return cancel

    before_pivot = names[: names.index(pivot)]
    return SagaDefinition(
        name="order",
        version=version,
        steps=[
            SagaStep(
                name,
                do(name),
                compensation=compensation(name) if name in before_pivot else None,
                pivot=name == pivot,
                retry=ONCE,
            )
            for name in names
        ],
        compensation_retry=ONCE,
        deadline_s=30.0,
    )


V1 = plan("v1", "a", "b", "c")
V2 = plan("v2", "a", "b", "c", "d", undo_command="cancel")  # a step after the pivot; new undo


class Blocking(FakeService):
    """Answers every command but ``blocked`` (its step never answers: a process that
    stops while the step runs)."""

    def __init__(self, blocked: str = "", refused: str = "") -> None:
        super().__init__()
        self.blocked = blocked
        self.refused = refused

    async def dispatch(self, target: str, envelope: Envelope) -> Any:
        step = envelope.payload.get("step")
        if envelope.name == "do" and step == self.blocked:
            await asyncio.Event().wait()
        if envelope.name == "do" and step == self.refused:
            return {"refused": True}
        return await super().dispatch(target, envelope)


async def stopped_mid_saga(store: ObservedStore, service: Blocking) -> None:
    """Version 1 deployed: ``order-1`` starts and the process stops while the service's
    ``blocked`` step runs; then the service answers everything."""
    old = SagaOrchestrator(store, [V1], dispatch=service.dispatch)
    await old.start("order", {}, saga_id="order-1")
    for _ in range(200):
        if any(row.step_name == service.blocked for row in store.step_log("order-1")):
            break
        await asyncio.sleep(0.01)
    await old.close()
    service.blocked = ""


async def redeployed(store: ObservedStore, service: Blocking) -> SagaOrchestrator:
    """Version 2 deployed after ``stopped_mid_saga``, keeping version 1: recovered."""
    await stopped_mid_saga(store, service)
    new = SagaOrchestrator(store, [V2], dispatch=service.dispatch, earlier=[V1])
    assert await new.recover() == ["order-1"]
    return new


@async_test
async def test_an_in_flight_saga_finishes_on_its_own_plan_and_a_new_one_on_the_new(
    store: ObservedStore,
) -> None:
    new = await redeployed(store, Blocking("b"))
    assert store.get_saga("order-1").definition_version == "v1"  # type: ignore[union-attr]
    assert (await new.wait("order-1")).state is SagaState.COMPLETED
    await new.start("order", {}, saga_id="order-2")
    assert (await new.wait("order-2")).state is SagaState.COMPLETED
    steps = {s: [r.step_name for r in store.step_log(s) if r.status == "succeeded"] for s in
             ("order-1", "order-2")}  # fmt: skip
    assert steps == {"order-1": ["a", "b", "c"], "order-2": ["a", "b", "c", "d"]}
    assert store.get_saga("order-2").definition_version == "v2"  # type: ignore[union-attr]
    await new.close()


@async_test
async def test_a_saga_compensates_with_the_compensations_of_its_version(
    store: ObservedStore,
) -> None:
    service = Blocking("b", refused="b")  # b, run again after the restart, is refused
    new = await redeployed(store, service)
    assert (await new.wait("order-1")).state is SagaState.COMPENSATED
    undone = [(command, step) for _, command, step in service.applied if command != "do"]
    assert undone == [("undo", "a")], "a's v1 compensation (undo), not v2's cancel"
    await new.close()


@async_test
async def test_recovery_without_the_version_refuses_and_changes_nothing(
    store: ObservedStore,
) -> None:
    await stopped_mid_saga(store, Blocking("b"))
    before = (store.get_saga("order-1"), store.step_log("order-1"))
    new = SagaOrchestrator(store, [V2], dispatch=Blocking().dispatch)
    with pytest.raises(SagaDefinitionError, match="started on version 'v1' of 'order'"):
        await new.recover()
    assert (store.get_saga("order-1"), store.step_log("order-1")) == before
    await new.close()


@async_test
async def test_a_dead_letter_is_redriven_with_the_compensation_of_its_version(
    store: ObservedStore,
) -> None:
    service = FakeService()
    undo_down = True

    async def dispatch(target: str, envelope: Envelope) -> Any:
        step = envelope.payload.get("step")
        if envelope.name == "do" and step == "b":
            return {"refused": True}  # b refused: a is compensated
        if envelope.name == "undo" and undo_down:
            raise RuntimeError("the undo's service is down")
        return await service.dispatch(target, envelope)

    old = SagaOrchestrator(store, [V1], dispatch=dispatch)
    await old.start("order", {}, saga_id="order-1")
    assert (await old.wait("order-1")).state is SagaState.COMPENSATION_FAILED
    await old.close()
    (letter,) = store.list_dead_letters(status="parked", saga_id="order-1")
    undo_down = False
    new = SagaOrchestrator(store, [V2], dispatch=dispatch, earlier=[V1])
    await new.recover()
    assert (await new.redrive(letter.id)).state is SagaState.COMPENSATED
    assert [(c, s) for _, c, s in service.applied] == [("do", "a"), ("undo", "a")]
    await new.close()


def test_a_store_made_before_versions_gets_the_column_and_old_rows_read_as_unversioned(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.db"
    with closing(sqlite3.connect(path)) as conn:
        conn.execute(
            "CREATE TABLE saga_executions (saga_id TEXT PRIMARY KEY, saga_name TEXT NOT NULL, "
            "state TEXT NOT NULL, step_index INTEGER NOT NULL, steps_total INTEGER NOT NULL, "
            "steps_completed INTEGER NOT NULL DEFAULT 0, pivot_index INTEGER, data TEXT NOT NULL,"
            " correlation_id TEXT NOT NULL, causation_id TEXT NOT NULL, started_at REAL NOT NULL,"
            " updated_at REAL NOT NULL, deadline_at REAL NOT NULL, ended_at REAL, error TEXT)"
        )
        conn.execute(
            "INSERT INTO saga_executions VALUES ('old', 'order', 'running', 0, 3, 0, 2, '{}', "
            "'c', 'c', 1.0, 1.0, 99.0, NULL, NULL)"
        )
        conn.commit()
    with closing(open_store(f"sqlite:///{path}")) as store:
        saga = store.get_saga("old")
        assert saga is not None and saga.definition_version == ""


@pytest.mark.postgres
def test_a_worker_claims_only_sagas_on_versions_it_has(postgres_url: str) -> None:
    with closing(open_store(postgres_url)) as store:

        async def main() -> None:
            client = SagaOrchestrator(
                store, [V1], dispatch=FakeService().dispatch, lease=_lease("client")
            )
            await client.start("order", {}, saga_id="on-v1")
            await client.close()

        run(main, timeout_s=60)
        active = ["running", "waiting", "compensating"]
        lacking = store.claim_sagas(
            "w-new", states=active, limit=10, lease_s=5.0, now=1e9, versions=["", "v2"]
        )
        assert lacking == {}, "a worker without v1 leaves the saga alone"
        having = store.claim_sagas(
            "w-old", states=active, limit=10, lease_s=5.0, now=1e9, versions=["", "v1", "v2"]
        )
        assert list(having) == ["on-v1"]


def _lease(owner: str) -> Any:
    from sagacrew.runtime.saga import Lease

    return Lease(owner, capacity=0)
