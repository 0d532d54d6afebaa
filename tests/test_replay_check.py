"""The one replay check (``sagacrew.runtime.replay_check``) and its three callers: the
rollback's ``check_replay``, the validator's ``replay_checks`` and the generated tests'
``broken_invariants`` report the same streams for the same store."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from typing import ClassVar
from typing import cast

import pytest

from sagacrew.agents.generated import GeneratedSystem
from sagacrew.agents.validator.verification.store_verdict import replay_checks
from sagacrew.runtime import AggregateActor
from sagacrew.runtime import CommandHandler
from sagacrew.runtime import SagaSystem
from sagacrew.runtime import open_store
from sagacrew.runtime.operations import check_replay
from sagacrew.runtime.replay_check import check_streams
from sagacrew.runtime.replay_check import replay_stream
from sagacrew.runtime.store import NewEvent
from sagacrew.runtime.store import Snapshot
from sagacrew.runtime.store import Store
from sagacrew.runtime.store import StoreUnavailable
from sagacrew.runtime.testing import broken_invariants
from sagacrew.runtime.testing import replay_check


class Counter(AggregateActor):
    address: ClassVar[str] = "shop.counter"
    identity: ClassVar[str] = "counter_id"
    fields: ClassVar[Mapping[str, str]] = {"counter_id": "str", "count": "int"}
    commands: ClassVar[Mapping[str, CommandHandler]] = {
        "open": CommandHandler(kind="create", event="shop.counter.opened", params=("count",)),
        "set": CommandHandler(kind="update", event="shop.counter.set", params=("count",)),
        "close": CommandHandler(kind="delete", event="shop.counter.deleted"),
    }

    def broken_invariants(self, state: Mapping[str, Any]) -> list[str]:
        return ["count_at_most_ten"] if state["count"] > 10 else []


def event(event_type: str, **payload: Any) -> NewEvent:
    return NewEvent(event_type=event_type, payload=payload, correlation_id="c", causation_id="c")


def write(store: Store, name: str, *events: NewEvent) -> str:
    """Append ``events`` to ``shop.counter:<name>`` as they are (no rules applied)."""
    stream = f"shop.counter:{name}"
    for version, one in enumerate(events):
        store.append(stream, version, [one])
    return stream


def snapshot_now(store: Store, name: str, **forged: Any) -> None:
    """Snapshot the stream at its last version: its true state, or with ``forged`` values."""
    stream = f"shop.counter:{name}"
    events = store.read_stream(stream)
    state, exists = Counter(store).fold(events)
    store.save_snapshot(
        stream, events[-1].version, {"state": {**state, **forged}, "exists": exists}
    )


def healthy(store: Store) -> None:
    write(store, "good", event("shop.counter.opened", counter_id="good", count=1),
          event("shop.counter.set", count=5))  # fmt: skip
    snapshot_now(store, "good")
    write(store, "plain", event("shop.counter.opened", counter_id="plain", count=2))
    # an instance created with a breaking count, then deleted: no longer live, not checked
    write(store, "gone", event("shop.counter.opened", counter_id="gone", count=50),
          event("shop.counter.deleted"))  # fmt: skip


def troubled(store: Store) -> None:
    """``healthy`` plus one stream of each problem the check reports."""
    healthy(store)
    write(store, "forged", event("shop.counter.opened", counter_id="forged", count=1),
          event("shop.counter.set", count=3))  # fmt: skip
    snapshot_now(store, "forged", count=9)
    write(store, "broken", event("shop.counter.opened", counter_id="broken", count=1),
          event("shop.counter.set", count=11))  # fmt: skip
    # never created but acted on: live in its initial state, so its invariants count
    write(store, "untouched", event("shop.counter.set", count=12))
    write(store, "corrupt", event("shop.counter.opened", counter_id="corrupt", count=1),
          event("shop.counter.vanished"))  # fmt: skip


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return open_store(f"sqlite://{tmp_path / 'replay.db'}")


def generated(*aggregates: type[AggregateActor]) -> GeneratedSystem:
    """What ``replay_checks`` reads of a generated system: its aggregate types."""
    definition = SimpleNamespace(aggregates=tuple(aggregates))
    return cast(GeneratedSystem, SimpleNamespace(definition=definition))


def running(store: Store) -> SagaSystem:
    """What ``check_replay`` reads of a running system: its aggregate prototypes."""
    return cast(SagaSystem, SimpleNamespace(aggregate_prototypes=lambda: [Counter(store)]))


def test_check_streams_finds_mismatches_unreadable_streams_and_broken_invariants(
    store: Store,
) -> None:
    troubled(store)
    check = check_streams([Counter(store)])
    assert (check.instances, check.snapshots, check.live) == (7, 2, 5)
    assert check.mismatches == ("shop.counter:forged",) and check.mismatch_count == 1
    assert check.error_count == 1 and check.errors[0].startswith("shop.counter:corrupt: ")
    assert "'shop.counter.vanished'" in check.errors[0]
    assert check.broken == ("shop.counter:broken", "shop.counter:untouched")
    assert not check.ok and not check.keeps_invariants
    assert "2 of 5 live instance(s) break an invariant" in check.summary()


def test_a_healthy_store_passes_the_check_in_every_caller(store: Store) -> None:
    healthy(store)
    check = check_streams([Counter(store)])
    assert check.ok and check.keeps_invariants
    assert (check.instances, check.snapshots, check.live) == (3, 1, 2)
    assert broken_invariants(store, [Counter]) == {}
    assert replay_check(store, [Counter]) == check
    assert [c.violation_count for c in replay_checks(generated(Counter), store)] == [0, 0]
    assert check_replay(running(store)) == check


def test_generated_tests_see_broken_live_instances_and_unreadable_streams(store: Store) -> None:
    troubled(store)
    broken = broken_invariants(store, [Counter])
    assert sorted(broken) == [
        "shop.counter:broken",
        "shop.counter:corrupt",
        "shop.counter:untouched",
    ]
    assert broken["shop.counter:broken"] == ["count_at_most_ten"]
    assert broken["shop.counter:untouched"] == ["count_at_most_ten"]
    assert broken["shop.counter:corrupt"][0].startswith("cannot be replayed: ")


def test_the_validator_counts_what_the_runtime_check_finds(store: Store) -> None:
    troubled(store)
    invariants, snapshots = replay_checks(generated(Counter), store)
    assert invariants.name == "replayed_state_keeps_invariants"
    assert (invariants.subjects, invariants.violation_count) == (6, 3)  # 5 live + 1 unreadable
    assert invariants.violations[:2] == ["shop.counter:broken", "shop.counter:untouched"]
    assert invariants.violations[2].startswith("shop.counter:corrupt: ")
    assert snapshots.name == "replay_equals_snapshot"
    assert (snapshots.subjects, snapshots.violations) == (2, ["shop.counter:forged"])


def test_the_rollback_check_reports_broken_invariants_beside_mismatches(store: Store) -> None:
    troubled(store)
    check = check_replay(running(store))
    assert check == check_streams([Counter(store)])
    assert check.broken_count == 2 and check.mismatch_count == 1 and check.error_count == 1


def test_a_store_outage_is_raised_not_reported_as_a_bad_stream(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    healthy(store)

    def unavailable(stream_id: str) -> Snapshot | None:
        raise StoreUnavailable("the store is restarting", fix="try again shortly")

    monkeypatch.setattr(store, "load_snapshot", unavailable)
    with pytest.raises(StoreUnavailable):
        check_streams([Counter(store)])
    with pytest.raises(StoreUnavailable):
        check_replay(running(store))


def test_one_stream_result_says_what_was_checked(store: Store) -> None:
    troubled(store)
    actor = Counter(store)
    good = replay_stream(actor, "good")
    assert (good.ok, good.live, good.snapshot, good.agrees, good.broken) == (
        True, True, True, True, ())  # fmt: skip
    gone = replay_stream(actor, "gone")
    assert gone.ok and not gone.live and gone.broken == ()
    forged = replay_stream(actor, "forged")
    assert not forged.ok and forged.snapshot and not forged.agrees
    corrupt = replay_stream(actor, "corrupt")
    assert not corrupt.ok and corrupt.error is not None and not corrupt.live
