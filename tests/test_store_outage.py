"""A PostgreSQL outage pauses the system instead of breaking it.

The store reconnects by itself (with backoff); while the server cannot be reached every
call fails at once with ``StoreUnavailable``; saga transitions whose commit was cut off
are written again once the server is back (they are idempotent); every saga that was
accepted ends terminal, nothing is written twice.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from postgres_server import PostgresServer

from sagacrew.agents.generated import GeneratedSystem
from sagacrew.agents.generated import open_generated
from sagacrew.runtime.saga import SagaResult
from sagacrew.runtime.saga import SagaState
from sagacrew.runtime.store import Store
from sagacrew.runtime.store import StoreUnavailable
from sagacrew.runtime.store import open_store
from sagacrew.runtime.system import SagaSystem
from sagacrew.runtime.system import sample_inputs

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def store(postgres_url: str) -> Iterator[Store]:
    opened = open_store(postgres_url)
    yield opened
    opened.close()


def terminate_backends(server: PostgresServer) -> int:
    """``pg_terminate_backend`` every other client connection (the store's); how many."""
    with psycopg.connect(server.url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE pid <> pg_backend_pid() AND backend_type = 'client backend'"
        ).fetchall()
    return len(rows)


def until(ready: Callable[[], bool], timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not ready():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)


def reaches(store: Store) -> bool:
    try:
        store.ping()
    except StoreUnavailable:
        return False
    return True


def test_a_terminated_connection_is_unavailable_then_heals(
    store: Store, postgres_server: PostgresServer
) -> None:
    assert store.stream_version("s-1") == 0 and store.available
    assert terminate_backends(postgres_server) >= 1
    with pytest.raises(StoreUnavailable) as lost:
        store.stream_version("s-1")
    assert "unavailable" in str(lost.value) and lost.value.retry_after_s > 0
    assert not store.available
    until(lambda: reaches(store))
    assert store.available and store.stream_version("s-1") == 0


def test_a_halted_server_is_unavailable_until_it_restarts(
    store: Store, postgres_server: PostgresServer
) -> None:
    postgres_server.halt()
    try:
        with pytest.raises(StoreUnavailable):
            store.stream_version("s-1")
        with pytest.raises(StoreUnavailable):  # no server: reconnecting fails too
            time.sleep(0.1)
            store.ping()
        assert not store.available
    finally:
        postgres_server.restart()
    until(lambda: reaches(store))
    assert store.available


def _generated() -> GeneratedSystem:
    return open_generated(ROOT / "generated" / "order_fulfilment")


async def _workload(
    saga_system: SagaSystem, inputs: dict[str, Any], sagas: int, outage: Callable[[], None]
) -> tuple[list[str], int]:
    """Start ``sagas`` sagas of each type as an API would (a refused start is retried by
    the client), run ``outage`` in a thread meanwhile, and wait for every accepted one."""
    orchestrator = saga_system.orchestrator
    assert orchestrator is not None
    refused = 0

    async def start(name: str, index: int) -> str:
        nonlocal refused
        data = sample_inputs(inputs[name], name, index, "outage")
        while True:
            try:
                return await orchestrator.start(name, data, saga_id=f"outage-{name}-{index}")
            except StoreUnavailable as exc:
                refused += 1
                await asyncio.sleep(exc.retry_after_s)

    fault = asyncio.create_task(asyncio.to_thread(outage))
    ids = await asyncio.gather(
        *(start(name, i) for name in orchestrator.definitions for i in range(sagas))
    )
    await fault

    async def wait(saga_id: str) -> SagaResult:
        while True:
            try:
                return await orchestrator.wait(saga_id)
            except StoreUnavailable as exc:
                await asyncio.sleep(exc.retry_after_s)

    results = await asyncio.wait_for(asyncio.gather(*(wait(saga_id) for saga_id in ids)), 120)
    assert all(result.state.terminal for result in results)
    return list(ids), refused


def _check_nothing_doubled(store: Store, ids: list[str]) -> None:
    rows = store.query("SELECT saga_id, state FROM saga_executions")
    assert sorted(saga_id for saga_id, _ in rows) == sorted(ids)
    assert {state for _, state in rows} <= {
        SagaState.COMPLETED.value,
        SagaState.COMPENSATED.value,
    }
    keys = Counter(
        (stream, json.loads(metadata).get("idempotency_key"))
        for stream, metadata in store.query("SELECT stream_id, metadata FROM events")
    )
    assert [key for key, count in keys.items() if count > 1] == []


def _run_with_outage(url: str, outage: Callable[[], None], sagas: int) -> list[str]:
    """The accepted saga ids; asserts the outage restarted no actor (an unreachable store
    is answered, not crashed on, so it never escalates to the supervisors)."""
    system = _generated()
    app = system.package

    async def go() -> list[str]:
        async with app.build_system(url) as saga_system:
            ids, _ = await _workload(saga_system, app.SAGA_INPUTS, sagas, outage)
            assert saga_system.actors.restarts == 0
            return ids

    return asyncio.run(go())


@pytest.mark.slow
def test_every_accepted_saga_ends_after_backends_are_terminated_mid_workload(
    postgres_url: str, postgres_server: PostgresServer
) -> None:
    terminated = 0

    def outage() -> None:
        nonlocal terminated
        for _ in range(8):
            time.sleep(0.15)
            terminated += terminate_backends(postgres_server)

    ids = _run_with_outage(postgres_url, outage, sagas=40)
    assert terminated >= 2
    store = open_store(postgres_url)
    try:
        _check_nothing_doubled(store, ids)
    finally:
        store.close()


@pytest.mark.slow
def test_every_accepted_saga_ends_after_the_server_restarts_mid_workload(
    postgres_url: str, postgres_server: PostgresServer
) -> None:
    def outage() -> None:
        time.sleep(0.3)
        postgres_server.halt()
        time.sleep(1.0)
        postgres_server.restart()

    ids = _run_with_outage(postgres_url, outage, sagas=40)
    store = open_store(postgres_url)
    try:
        _check_nothing_doubled(store, ids)
    finally:
        store.close()
