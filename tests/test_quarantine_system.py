"""Blast radius on a generated system: four corrupt streams quarantine their aggregates
(one alert each) while unrelated sagas complete and the supervision tree stays up;
``sagacrew streams inspect|repair`` shows and fixes a broken row, after which the next
saga on it succeeds; a saga row with bad JSON quarantines that saga, not the start-up.

Every test runs on SQLite and PostgreSQL (``store_url`` in conftest).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from typing import TypeVar

import pytest
from async_helpers import run
from cli_helpers import sagacrew
from corruption import corrupt
from saga_fakes import saga_row

from sagacrew.agents.generated import GeneratedSystem
from sagacrew.agents.generated import open_generated
from sagacrew.crew.pipeline import generate
from sagacrew.runtime import SagaState
from sagacrew.runtime import SagaSystem
from sagacrew.runtime.saga import Alert
from sagacrew.runtime.saga import SagaError
from sagacrew.runtime.store import SagaExecution
from sagacrew.runtime.store import SagaTransition
from sagacrew.runtime.store import StepLogEntry

T = TypeVar("T")

SPEC = (Path(__file__).parent / "data" / "specs" / "quarantine_shop.yaml").read_text("utf-8")

CORRUPTIONS = {
    "i-1": "UPDATE events SET payload = 'not json' WHERE stream_id = ? AND version = 1",
    "i-2": "UPDATE events SET metadata = '[1, 2]' WHERE stream_id = ? AND version = 1",
    "i-3": "UPDATE events SET event_type = 'shop.item.vanished' WHERE stream_id = ?",
    "i-4": "UPDATE events SET version = 3 WHERE stream_id = ? AND version = 1",  # a gap
}
"""Four ways a stream breaks: bad JSON, metadata not an object, an unknown event type, a
missing version."""


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> GeneratedSystem:
    root = tmp_path_factory.mktemp("quarantine_shop")
    (root / "quarantine_shop.yaml").write_text(SPEC, "utf-8")
    generate(root / "quarantine_shop.yaml", root / "out", use_flow=False)
    return open_generated(root / "out")


class Alerts:
    """An ``on_alert`` that can be awaited until ``count`` alerts of a kind arrived."""

    def __init__(self) -> None:
        self.seen: list[Alert] = []
        self._changed = asyncio.Event()

    def __call__(self, alert: Alert) -> None:
        self.seen.append(alert)
        self._changed.set()

    def of(self, kind: str) -> list[Alert]:
        return [alert for alert in self.seen if alert.kind == kind]

    async def wait_for(self, kind: str, count: int) -> list[Alert]:
        """The alerts of ``kind`` once ``count`` arrived, after the deliveries in flight
        settled (a few loop turns: an extra alert would show)."""
        while len(self.of(kind)) < count:
            self._changed.clear()
            await self._changed.wait()
        for _ in range(50):
            await asyncio.sleep(0)
        return self.of(kind)


@pytest.fixture
def build(shop: GeneratedSystem) -> Iterator[Callable[..., SagaSystem]]:
    """``build(url, on_alert=...)``: the shop over a store; every store is closed after."""
    built: list[SagaSystem] = []

    def make(url: str, **options: Any) -> SagaSystem:
        system: SagaSystem = shop.package.build_system(url, **options)
        built.append(system)
        return system

    yield make
    for system in built:
        system.store.close()


def stocked(build: Callable[..., SagaSystem], url: str, count: int) -> None:
    """Items i-1 .. i-<count>, each created by a completed saga."""

    async def body() -> None:
        async with build(url) as system:
            for n in range(1, count + 1):
                data = {"item_id": f"i-{n}", "name": f"item {n}"}
                result = await system.run_saga("stock_item", data)
                assert result.state is SagaState.COMPLETED, result.error

    run(body, 60.0)


# --- four corrupt streams ------------------------------------------------------------------


def test_four_corrupt_streams_are_quarantined_and_unrelated_sagas_are_unaffected(
    build: Callable[..., SagaSystem], store_url: str
) -> None:
    stocked(build, store_url, 6)
    for item, sql in CORRUPTIONS.items():
        corrupt(store_url, sql, f"shop.item:{item}")
    alerts = Alerts()
    system = build(store_url, on_alert=alerts)

    async def body() -> tuple[list[Any], list[Any], list[Alert], int, bool]:
        async with system:
            touching = [
                system.run_saga("tag_and_order", {"order_id": f"o-{item}-{n}", "item_id": item})
                for item in CORRUPTIONS
                for n in range(2)  # two sagas per stream: still one alert per stream
            ]
            unrelated = [
                system.run_saga("stock_item", {"item_id": f"new-{n}", "name": "new"})
                for n in range(20)
            ] + [
                system.run_saga("tag_and_order", {"order_id": f"o-{item}", "item_id": item})
                for item in ("i-5", "i-6")
            ]
            results = await asyncio.gather(*touching, *unrelated)
            quarantined = await alerts.wait_for("stream_quarantined", len(CORRUPTIONS))
            after = await system.run_saga("stock_item", {"item_id": "last", "name": "last"})
            assert after.state is SagaState.COMPLETED  # the tree is still up
            return (
                results[: len(touching)],
                results[len(touching) :],
                quarantined,
                system.actors.restarts,
                system.actors.failed.is_set(),
            )

    touched, unrelated, quarantined, restarts, failed = run(body, 60.0)
    for result in touched:
        item = result.data["item_id"]
        assert result.state is SagaState.COMPENSATED, result.error
        assert f"stream shop.item:{item} is quarantined" in (result.error or "")
        assert "sagacrew streams" in (result.error or "")
    assert {result.state for result in unrelated} == {SagaState.COMPLETED}
    assert len(unrelated) == 22
    assert (restarts, failed) == (0, False)  # nothing escalated
    streams = sorted(
        next(s for s in (f"shop.item:{i}" for i in CORRUPTIONS) if s + " " in a.error)
        for a in quarantined
    )
    assert streams == [f"shop.item:{item}" for item in CORRUPTIONS]  # one alert each
    unknown = next(a for a in quarantined if "shop.item:i-3 " in a.error)
    assert "version 1" in unknown.error and "'shop.item.vanished'" in unknown.error


# --- inspect and repair --------------------------------------------------------------------


def test_inspect_shows_the_broken_row_and_repair_lets_the_next_saga_succeed(
    build: Callable[..., SagaSystem], shop: GeneratedSystem, store_url: str
) -> None:
    stocked(build, store_url, 2)
    corrupt(store_url, CORRUPTIONS["i-1"], "shop.item:i-1")
    system_dir, stream = str(shop.root), "shop.item:i-1"

    inspected = sagacrew("streams", "inspect", system_dir, stream, "--store", store_url)
    assert inspected.returncode == 1, inspected.stderr
    assert "BROKEN: payload is not valid JSON" in inspected.stdout
    assert "shop.item.created" in inspected.stdout and "not json" in inspected.stdout
    assert f"streams repair {system_dir} {stream} --version 1" in inspected.stdout

    healthy = sagacrew("streams", "repair", system_dir, "shop.item:i-2", "--version", "1",
                       "--payload", "{}", "--store", store_url)  # fmt: skip
    assert healthy.returncode == 2 and "is not broken" in healthy.stderr
    still_broken = sagacrew("streams", "repair", system_dir, stream, "--version", "1",
                            "--payload", "[1]", "--store", store_url)  # fmt: skip
    assert still_broken.returncode == 2 and "not an object" in still_broken.stderr
    assert len(still_broken.stderr.strip().splitlines()) == 1

    payload = json.dumps({"item_id": "i-1", "name": "item 1", "status": "new"})
    repaired = sagacrew("streams", "repair", system_dir, stream, "--version", "1",
                        "--payload", payload, "--store", store_url)  # fmt: skip
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert "the stream replays cleanly" in repaired.stdout

    async def body() -> Any:
        async with build(store_url) as system:
            data = {"order_id": "o-after-repair", "item_id": "i-1"}
            return await system.run_saga("tag_and_order", data)

    result = run(body, 60.0)
    assert result.state is SagaState.COMPLETED, result.error
    events = build(store_url).store.read_stream(stream)
    assert events[0].metadata["repaired"]["payload"] == "not json"
    assert [event.version for event in events] == [1, 2]


# --- a corrupt saga row --------------------------------------------------------------------


def _in_flight(saga_id: str, item: str) -> SagaExecution:
    data = {"item_id": item, "name": item}
    return saga_row(
        saga_id, "running", 1.0, saga_name="stock_item", steps_total=1, data=data, deadline_at=4e9
    )


def test_a_saga_row_with_bad_json_quarantines_that_saga_not_the_start(
    build: Callable[..., SagaSystem], store_url: str
) -> None:
    store = build(store_url).store
    for saga_id in ("good-1", "bad-data", "bad-log", "good-2"):
        store.apply_saga_transition(SagaTransition(create=_in_flight(saga_id, saga_id)))
    store.apply_saga_transition(
        SagaTransition(
            step=StepLogEntry(
                saga_id="bad-log", step_index=0, step_name="add", phase="forward",
                status="started", attempt=1, compensatable=True,
                idempotency_key="bad-log:0:forward:1", started_at=1.0,
                correlation_id="c-bad-log", causation_id="c-bad-log", result={},
            )
        )
    )  # fmt: skip
    corrupt(store_url, "UPDATE saga_executions SET data = 'not json' WHERE saga_id = ?",
            "bad-data")  # fmt: skip
    corrupt(store_url, "UPDATE saga_step_log SET result = '{' WHERE saga_id = ?", "bad-log")
    alerts = Alerts()
    system = build(store_url, on_alert=alerts)

    async def body() -> tuple[list[str], list[Any], list[str], list[Alert]]:
        async with system:
            recovered = list(system.recovered)
            results = [await system.orchestrator.wait(s) for s in ("good-1", "good-2")]
            refused = []
            for saga_id in ("bad-data", "bad-log"):
                with pytest.raises(SagaError) as raised:
                    await system.orchestrator.wait(saga_id)
                refused.append(str(raised.value))
            await system.orchestrator.recover()  # again: no second alert
            quarantined = await alerts.wait_for("saga_quarantined", 2)
            return recovered, results, refused, quarantined

    recovered, results, refused, quarantined = run(body, 60.0)
    assert recovered == ["good-1", "good-2"]
    assert [result.state for result in results] == [SagaState.COMPLETED] * 2
    assert "saga 'bad-data' is quarantined" in refused[0] and "not valid JSON" in refused[0]
    assert "saga 'bad-log' is quarantined" in refused[1] and "saga_step_log" in refused[1]
    assert sorted((a.saga_id, a.saga_name) for a in quarantined) == [
        ("bad-data", "stock_item"),
        ("bad-log", "stock_item"),
    ]
