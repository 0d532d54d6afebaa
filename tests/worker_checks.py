"""What the worker tests share: starting sagas as a client does, reading the store while the
workers run, and the checks that every saga ended once and the validator agrees."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from cli_helpers import copy_of_generated
from cli_helpers import sagacrew
from order_example import SYSTEM_DIR

from sagacrew.runtime import load_system
from sagacrew.runtime.saga import Lease
from sagacrew.runtime.saga import SagaOrchestrator
from sagacrew.runtime.store import Store
from sagacrew.runtime.store import open_store

TERMINAL = ("completed", "compensated", "compensation_failed", "stalled")
CONSISTENCY_GATES = (
    "success_rate",
    "consistency_score",
    "no_lost_update",
    "no_orphaned_external_work",
)
DEFINITION = load_system(SYSTEM_DIR).definition


def submit(store_url: str, count: int, in_flight: int = 400) -> None:
    """Start ``count`` order sagas as a client does (persisted, driven by no one yet), at
    the pace the workers keep up with: a wave of 100 whenever fewer than ``in_flight`` are
    still running (the workers' two cores are the limit here, not the store)."""

    async def main() -> None:
        store = open_store(store_url)

        async def nobody(target: str, envelope: object) -> dict[str, object]:
            raise AssertionError("a client dispatches nothing")

        client = SagaOrchestrator(
            store, list(DEFINITION.sagas), dispatch=nobody, lease=Lease("client")
        )
        for first in range(0, count, 100):
            while first - sum(counts(store).get(s, 0) for s in TERMINAL) >= in_flight:
                await asyncio.sleep(0.1)
            await asyncio.gather(
                *(
                    client.start(
                        "create_order",
                        DEFINITION.sample_inputs("create_order", i, "w"),
                        saga_id=f"order-{i:05d}",
                    )
                    for i in range(first, min(first + 100, count))
                )
            )
        await client.close()
        store.close()

    asyncio.run(main())


def counts(store: Store) -> dict[str, int]:
    return store.saga_state_counts()


def held(store: Store, owner: str) -> int:
    """Sagas in flight whose lease ``owner`` holds (expired or not)."""
    rows = store.query(
        "SELECT COUNT(*) FROM saga_leases l JOIN saga_executions s ON s.saga_id = l.saga_id "
        "WHERE l.owner = ? AND s.state IN ('running', 'waiting', 'compensating')",
        (owner,),
    )
    return int(rows[0][0])


def until(ready: object, what: str, seconds: float = 180.0) -> None:
    deadline = time.monotonic() + seconds
    while not ready():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"waited {seconds} s for {what}"
        time.sleep(0.1)


def ended(store: Store) -> int:
    """Sagas in a terminal state."""
    return sum(counts(store).get(state, 0) for state in TERMINAL)


def assert_every_saga_completed_once(store: Store, sagas: int) -> None:
    """All ``sagas`` completed; no step succeeded twice (the step log); every event was
    appended by exactly one command (no command acted twice); some sagas changed hands."""
    why = store.query(
        "SELECT error, COUNT(*) FROM saga_executions WHERE state <> 'completed' GROUP BY error"
    )
    assert counts(store) == {"completed": sagas}, why
    twice = store.query(
        "SELECT saga_id, step_index FROM saga_step_log WHERE phase = 'forward' "
        "AND status = 'succeeded' GROUP BY saga_id, step_index HAVING COUNT(*) > 1"
    )
    assert twice == [], "no step succeeded twice"
    steps = len(DEFINITION.saga("create_order").steps)
    assert store.query(
        "SELECT COUNT(*) FROM saga_step_log WHERE phase = 'forward' AND status = 'succeeded'"
    ) == [(sagas * steps,)]
    effects = store.query("SELECT COUNT(*) FROM events")[0][0]
    commands = store.query("SELECT COUNT(*) FROM processed_commands")[0][0]
    assert effects == commands, "every event was appended by exactly one command"
    taken = store.query("SELECT COUNT(*) FROM saga_leases WHERE generation > 1")[0][0]
    assert taken > 0, "the lost workers' sagas were claimed again"


def assert_validator_passes(store_url: str, tmp_path: Path) -> None:
    """The Consistency Validator's checks over what the workers wrote. Its latency gates
    are not asked: the steps caught by a kill or a freeze waited a lease for their new
    owner, which a 200 ms step-latency threshold counts against them."""
    system_dir = copy_of_generated("order_fulfilment", tmp_path)
    sagacrew("verify", str(system_dir), "--judge-store", store_url, timeout=300)
    verdict = json.loads(next(system_dir.rglob("verdict.json")).read_text("utf-8"))
    gates = {gate["name"]: gate["passed"] for gate in verdict["gates"]}
    assert {name: gates[name] for name in CONSISTENCY_GATES} == dict.fromkeys(
        CONSISTENCY_GATES, True
    ), gates
    broken = {c["name"]: c["violations"] for c in verdict["checks"] if c["violation_count"]}
    assert broken == {}
    assert verdict["lint_findings"] == []
