"""Durable alerts on SQLite and PostgreSQL: an alert is written in the same transaction as
the saga transition that raises it, once even when the transition is replayed, delivered
to the sinks and marked delivered, kept pending while no sink took it, and delivered
after a SIGKILL by the next process's ``recover()``.

Run this file as a script to act as the crash worker (see :func:`worker`).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import Awaitable
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from saga_fakes import ObservedStore
from saga_fakes import observed_store
from saga_fakes import parked_letter
from saga_fakes import saga_row

from sagacrew.runtime.alerts import AlertRecord
from sagacrew.runtime.alerts import alert_payload
from sagacrew.runtime.messages import Envelope
from sagacrew.runtime.saga import Alert
from sagacrew.runtime.saga import RetryPolicy
from sagacrew.runtime.saga import SagaDefinition
from sagacrew.runtime.saga import SagaOrchestrator
from sagacrew.runtime.saga import SagaState
from sagacrew.runtime.saga import SagaStep
from sagacrew.runtime.saga import StepContext
from sagacrew.runtime.saga import StepFailed
from sagacrew.runtime.store import SagaExecution
from sagacrew.runtime.store import SagaTransition
from sagacrew.runtime.store import SagaUpdate
from sagacrew.runtime.store import Store
from sagacrew.runtime.store import StoreError
from sagacrew.runtime.store import TransitionIds
from sagacrew.runtime.store import open_store

FAST = RetryPolicy(max_attempts=2, initial_backoff_s=0.0, jitter=0.0, max_backoff_s=0.0)


# --- sagas and sinks -----------------------------------------------------------------------


async def done(ctx: StepContext) -> Mapping[str, Any]:
    return {f"{ctx.step_name}_done": True}


async def refuse(ctx: StepContext) -> Mapping[str, Any]:
    raise StepFailed(f"{ctx.step_name} refused", retriable=False)


async def broken_undo(ctx: StepContext) -> Mapping[str, Any]:
    raise StepFailed(f"undo of {ctx.step_name} unavailable")


async def dispatch(target: str, envelope: Envelope) -> Mapping[str, Any]:
    return {}


def shipping() -> SagaDefinition:
    """reserve, ship (the pivot), notify: notify is refused after the pivot, so the saga
    stalls and raises a ``stalled`` alert."""
    return SagaDefinition(
        "shipping",
        [
            SagaStep("reserve", done, done, retry=FAST),
            SagaStep("ship", done, None, pivot=True, retry=FAST),
            SagaStep("notify", refuse, None, retry=FAST),
        ],
        compensation_retry=FAST,
    )


def booking() -> SagaDefinition:
    """reserve (whose undo always fails), then charge, refused: the undo is dead-lettered
    and a ``compensation_failed`` alert raised."""
    return SagaDefinition(
        "booking",
        [
            SagaStep("reserve", done, broken_undo, retry=FAST),
            SagaStep("charge", refuse, done, retry=FAST),
        ],
        compensation_retry=FAST,
    )


class Recording:
    """A sink that keeps what it takes."""

    name = "recording"

    def __init__(self) -> None:
        self.seen: list[AlertRecord] = []

    async def send(self, alert: AlertRecord) -> None:
        self.seen.append(alert)


class Refusing:
    """A sink that never takes an alert; ``called`` is set at its first call."""

    name = "refusing"

    def __init__(self) -> None:
        self.called = asyncio.Event()

    async def send(self, alert: AlertRecord) -> None:
        self.called.set()
        raise ConnectionError("pager unreachable")


async def within(waiting: Awaitable[Any]) -> None:
    """Await ``waiting``; a generous guard turns a hang into a failure (not a timing)."""
    await asyncio.wait_for(waiting, timeout=60)


@pytest.fixture
def store(store_url: str) -> Iterator[ObservedStore]:
    observed = observed_store(store_url)
    yield observed
    observed.close()


def record(kind: str = "stalled", at: float = 1_000.0, **fields: Any) -> AlertRecord:
    values: dict[str, Any] = {
        "saga_id": "s-1",
        "saga_name": "shipping",
        "step_name": "notify",
        "error": f"{kind}: fix it",
        "correlation_id": "corr-1",
        **fields,
    }
    return AlertRecord(kind=kind, raised_at=at, **values)


def saga(saga_id: str = "s-1") -> SagaExecution:
    """A running ``shipping`` saga at its last step, past its pivot."""
    at_last_step = {"step_index": 2, "steps_completed": 2, "pivot_index": 1}
    return saga_row(saga_id, SagaState.RUNNING, 1.0, saga_name="shipping", **at_last_step)


# --- the store: one transaction, written once ----------------------------------------------


def test_a_transition_and_its_alert_are_committed_together_or_not_at_all(
    store: ObservedStore,
) -> None:
    store.apply_saga_transition(SagaTransition(create=saga()))
    stall = SagaTransition(update=SagaUpdate("s-1", 2.0, state="stalled"), alert=record())
    unknown = SagaTransition(update=SagaUpdate("no-such-saga", 2.0, state="stalled"))
    with pytest.raises(StoreError, match="does not exist"):
        store.apply_saga_transitions([stall, unknown])
    assert store.list_alerts() == [], "the alert was rolled back with its transaction"
    assert store.get_saga("s-1").state == "running"  # type: ignore[union-attr]

    ids = store.apply_saga_transition(stall)
    [alert] = store.list_alerts()
    assert (alert.id, alert.kind, alert.delivered_at, alert.delivery_attempts) == (
        ids.alert_id,
        "stalled",
        None,
        0,
    )
    assert store.get_saga("s-1").state == "stalled"  # type: ignore[union-attr]


def test_a_replayed_transition_writes_its_alert_and_dead_letter_once(store: ObservedStore) -> None:
    step = {"saga_id": "s-1", "step_index": 0, "step_name": "reserve"}
    letter = parked_letter("compensation", 5.0, payload={"step_name": "reserve"}, **step)
    parked = SagaTransition(dead_letter=letter, alert=record("compensation_failed", at=5.0))
    first = store.apply_saga_transitions([parked])
    replayed = store.apply_saga_transitions([parked])  # the commit acknowledgement was lost
    assert first == replayed
    [ids] = first
    [alert] = store.list_alerts()
    assert alert.id == ids.alert_id
    assert alert.dead_letter_id == ids.dead_letter_id is not None, "filled from the letter"
    assert len(store.list_dead_letters()) == 1
    assert store.record_alert(record("compensation_failed", at=5.0)) == ids.alert_id


def test_alerts_of_different_streams_raised_at_once_are_kept_apart(store: ObservedStore) -> None:
    def quarantined(stream_id: str | None) -> AlertRecord:
        return record("stream_quarantined", saga_id="", saga_name="", stream_id=stream_id)

    ids = [store.record_alert(quarantined(s)) for s in ("orders:o-1", "orders:o-2", None)]
    assert len(set(ids)) == 3
    assert store.record_alert(quarantined("orders:o-1")) == ids[0]
    assert store.record_alert(quarantined(None)) == ids[2]
    assert [a.stream_id for a in store.list_alerts()] == ["orders:o-1", "orders:o-2", None]


def test_delivery_is_noted_and_listed_by_state(store: ObservedStore) -> None:
    first, second = store.record_alert(record(at=1.0)), store.record_alert(record(at=2.0))
    store.note_alert_delivery_failed(first, "webhook: HTTP 500")
    store.mark_alert_delivered(first, 10.0)
    store.mark_alert_delivered(first, 20.0)  # delivered again after a restart
    [delivered] = store.list_alerts(delivered=True)
    assert (delivered.id, delivered.delivered_at, delivered.delivery_attempts) == (first, 10.0, 3)
    assert delivered.last_delivery_error == "webhook: HTTP 500"
    assert [a.id for a in store.list_alerts(delivered=False)] == [second]
    assert [a.id for a in store.list_alerts(limit=1)] == [first]
    with pytest.raises(StoreError, match="alert 999 does not exist"):
        store.mark_alert_delivered(999, 1.0)
    with pytest.raises(StoreError, match="alert 999 does not exist"):
        store.note_alert_delivery_failed(999, "x")


# --- the orchestrator: raised with the transition, then delivered --------------------------


def test_a_stalled_saga_writes_its_alert_with_the_stall_and_delivers_it(
    store: ObservedStore,
) -> None:
    transitions: list[SagaTransition] = []
    store.watchers.append(transitions.append)
    sink, heard = Recording(), list[Alert]()

    async def scenario() -> None:
        orchestrator = SagaOrchestrator(
            store, [shipping()], dispatch=dispatch, on_alert=heard.append, alert_sinks=[sink]
        )
        result = await orchestrator.run("shipping", {}, correlation_id="corr-9")
        assert result.state is SagaState.STALLED
        await within(orchestrator.alert_delivery.settle())
        await orchestrator.close()

    asyncio.run(scenario())
    [stall] = [t for t in transitions if t.update is not None and t.update.state == "stalled"]
    assert stall.alert is not None and stall.alert.kind == "stalled"
    assert [t for t in transitions if t.alert is not None] == [stall]
    [row] = store.list_alerts()
    assert (row.kind, row.step_name, row.correlation_id) == ("stalled", "notify", "corr-9")
    assert row.delivered_at is not None and row.delivery_attempts == 1
    assert [alert.id for alert in sink.seen] == [row.id]
    assert [(a.kind, a.step_name, a.at) for a in heard] == [("stalled", "notify", row.raised_at)]


def test_a_dead_lettered_compensation_alert_names_the_letter_parked_with_it(
    store: ObservedStore,
) -> None:
    transitions: list[SagaTransition] = []
    store.watchers.append(transitions.append)
    sink = Recording()

    async def scenario() -> None:
        orchestrator = SagaOrchestrator(store, [booking()], dispatch=dispatch, alert_sinks=[sink])
        result = await orchestrator.run("booking", {})
        assert result.state is SagaState.COMPENSATION_FAILED
        await within(orchestrator.alert_delivery.settle())

    asyncio.run(scenario())
    [parking] = [t for t in transitions if t.dead_letter is not None]
    assert parking.alert is not None and parking.alert.kind == "compensation_failed"
    [letter] = store.list_dead_letters()
    [row] = store.list_alerts(delivered=True)
    assert row.dead_letter_id == letter.id is not None
    assert [(a.id, a.dead_letter_id) for a in sink.seen] == [(row.id, letter.id)]


def test_without_a_sink_an_alert_stays_pending_for_the_next_start(store: ObservedStore) -> None:
    sink = Recording()

    async def first_process() -> None:
        orchestrator = SagaOrchestrator(store, [shipping()], dispatch=dispatch)
        assert (await orchestrator.run("shipping", {})).state is SagaState.STALLED
        await within(orchestrator.alert_delivery.settle())
        await orchestrator.close()

    async def second_process() -> None:
        orchestrator = SagaOrchestrator(store, [shipping()], dispatch=dispatch, alert_sinks=[sink])
        assert await orchestrator.recover() == []
        await within(orchestrator.alert_delivery.settle())
        await orchestrator.close()

    asyncio.run(first_process())
    [pending] = store.list_alerts(delivered=False)
    assert pending.kind == "stalled"
    asyncio.run(second_process())
    assert [a.id for a in sink.seen] == [pending.id]
    assert store.list_alerts(delivered=False) == []


def test_recover_redelivers_undelivered_alerts_and_a_failing_sink_does_not_fail_it(
    store: ObservedStore,
) -> None:
    store.record_alert(record(at=1.0))
    store.record_alert(record("driver_failed", at=2.0))
    refusing = Refusing()

    async def scenario() -> None:
        orchestrator = SagaOrchestrator(
            store, [shipping()], dispatch=dispatch, alert_sinks=[Recording(), refusing]
        )
        assert await orchestrator.recover() == []
        await within(refusing.called.wait())
        await orchestrator.close()

    asyncio.run(scenario())
    pending = store.list_alerts(delivered=False)
    assert [a.kind for a in pending] == ["stalled", "driver_failed"], "kept for a retry"
    failed = [a for a in pending if a.delivery_attempts]
    assert failed and all("refusing: ConnectionError" in str(a.last_delivery_error) for a in failed)


def test_raise_alert_records_a_stream_alert_then_delivers_it(store: ObservedStore) -> None:
    sink = Recording()
    alert = Alert("stream_quarantined", "", "", "", "stream orders:o-1 is quarantined", "c", 7.0)

    async def scenario() -> None:
        orchestrator = SagaOrchestrator(store, [shipping()], dispatch=dispatch, alert_sinks=[sink])
        await orchestrator.raise_alert(alert, stream_id="orders:o-1")
        await orchestrator.raise_alert(alert, stream_id="orders:o-1")  # the same alert again
        await within(orchestrator.alert_delivery.settle())

    asyncio.run(scenario())
    [row] = store.list_alerts(delivered=True)
    assert (row.kind, row.stream_id, row.raised_at) == ("stream_quarantined", "orders:o-1", 7.0)
    assert {a.id for a in sink.seen} == {row.id}
    assert alert_payload(sink.seen[0])["stream_id"] == "orders:o-1"


# --- a SIGKILL between the commit and the delivery -----------------------------------------


class KillingSink:
    """Kills the process with SIGKILL when it is handed an alert."""

    name = "killing"

    async def send(self, alert: AlertRecord) -> None:
        os.kill(os.getpid(), signal.SIGKILL)


class FileSink:
    """Appends each alert as a JSON line to a file (flushed to disk before it returns)."""

    name = "file"

    def __init__(self, path: str) -> None:
        self.path = path

    async def send(self, alert: AlertRecord) -> None:
        with open(self.path, "a", encoding="utf-8") as out:
            out.write(json.dumps(alert_payload(alert)) + "\n")
            out.flush()
            os.fsync(out.fileno())


def _kill_after_commit(store: Store) -> None:
    """SIGKILL right after a transition carrying an alert is committed (before the
    orchestrator gets to deliver it)."""
    many, one = store.apply_saga_transitions, store.apply_saga_transition

    def check(transitions: Sequence[SagaTransition]) -> None:
        if any(transition.alert is not None for transition in transitions):
            os.kill(os.getpid(), signal.SIGKILL)

    def apply_many(transitions: Sequence[SagaTransition]) -> list[TransitionIds]:
        ids = many(transitions)
        check(transitions)
        return ids

    def apply_one(transition: SagaTransition) -> TransitionIds:
        ids = one(transition)
        check([transition])
        return ids

    store.apply_saga_transitions = apply_many  # type: ignore[method-assign]
    store.apply_saga_transition = apply_one  # type: ignore[method-assign]


def worker(url: str, mode: str, crash_at: str, out_path: str) -> None:
    """``run``: run one shipping saga (it stalls) with the crash ``crash_at``
    (``after_commit``: in the store; ``in_sink``: in the only sink); ``recover``: recover
    with a sink writing to ``out_path``, wait for the deliveries, stop."""
    store = open_store(url)
    if crash_at == "after_commit":
        _kill_after_commit(store)
    sink = KillingSink() if crash_at == "in_sink" else FileSink(out_path)

    async def main() -> None:
        orchestrator = SagaOrchestrator(store, [shipping()], dispatch=dispatch, alert_sinks=[sink])
        if mode == "run":
            await orchestrator.run("shipping", {}, saga_id="s-crash")
        else:
            await orchestrator.recover()
        await within(orchestrator.alert_delivery.settle())
        await orchestrator.close()

    asyncio.run(main())
    store.close()


def launch(url: str, mode: str, crash_at: str, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, __file__, url, mode, crash_at, str(out)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.slow
@pytest.mark.parametrize("crash_at", ["after_commit", "in_sink"])
def test_an_alert_raised_just_before_a_sigkill_is_delivered_after_the_restart(
    store_url: str, crash_at: str, tmp_path: Path
) -> None:
    out = tmp_path / "delivered.jsonl"
    crashed = launch(store_url, "run", crash_at, out)
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    with open_store(store_url) as store:
        assert store.get_saga("s-crash").state == "stalled"  # type: ignore[union-attr]
        [alert] = store.list_alerts()
        assert (alert.kind, alert.saga_id, alert.delivered_at) == ("stalled", "s-crash", None)
    assert not out.exists()

    recovered = launch(store_url, "recover", "none", out)
    assert recovered.returncode == 0, recovered.stderr
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == [alert.id]
    with open_store(store_url) as store:
        [after] = store.list_alerts()
        assert after.id == alert.id and after.delivered_at is not None

    again = launch(store_url, "recover", "none", out)
    assert again.returncode == 0, again.stderr
    assert len(out.read_text().splitlines()) == 1, "a delivered alert is not sent again"


if __name__ == "__main__":
    worker(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4])
