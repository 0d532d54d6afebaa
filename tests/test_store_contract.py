"""One contract for every store backend (pyeventsourcing style): subclassed per backend."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest
import saga_fakes

from sagacrew.runtime.store import AppendRequest
from sagacrew.runtime.store import ConcurrencyError
from sagacrew.runtime.store import DeadLetter
from sagacrew.runtime.store import DeadLetterUpdate
from sagacrew.runtime.store import DuplicateCommandError
from sagacrew.runtime.store import ExternalCallUpdate
from sagacrew.runtime.store import Fence
from sagacrew.runtime.store import LeaseLost
from sagacrew.runtime.store import MessageLogEntry
from sagacrew.runtime.store import NewEvent
from sagacrew.runtime.store import SagaExecution
from sagacrew.runtime.store import SagaTransition
from sagacrew.runtime.store import SagaUpdate
from sagacrew.runtime.store import StepLogEntry
from sagacrew.runtime.store import Store
from sagacrew.runtime.store import StoreError
from sagacrew.runtime.store import TransitionIds
from sagacrew.runtime.store import open_store


def event(kind: str = "kitchen.ticket.created", **payload: Any) -> NewEvent:
    return NewEvent(kind, payload or {"n": 1}, correlation_id="corr-1", causation_id="cause-1")


def saga_row(saga_id: str = "s-1") -> SagaExecution:
    """A running ``create_order`` saga at its first step, before its pivot."""
    ids = {"correlation_id": "corr-1", "causation_id": "cause-1"}
    data = {"order_id": "o-1"}
    return saga_fakes.saga_row(
        saga_id, "running", 100.0, saga_name="create_order", pivot_index=1, data=data, **ids
    )


def step_row(status: str = "started", **changes: Any) -> StepLogEntry:
    fields: dict[str, Any] = {
        "saga_id": "s-1",
        "step_index": 0,
        "step_name": "create_ticket",
        "phase": "forward",
        "status": status,
        "attempt": 1,
        "compensatable": True,
        "idempotency_key": "s-1:0:forward:1",
        "started_at": 100.0,
        "correlation_id": "corr-1",
        "causation_id": "cause-2",
    }
    fields.update(changes)
    return StepLogEntry(**fields)


def dead_letter() -> DeadLetter:
    """The parked compensation of ``create_ticket`` in saga ``s-1``, after 3 attempts."""
    step = {"saga_id": "s-1", "step_index": 0, "step_name": "create_ticket"}
    failure = {"error": "kitchen unavailable", "attempts": 3}
    payload = {"step_result": {"ticket_id": "T-1"}}
    return saga_fakes.parked_letter("compensation", 101.0, payload=payload, **step, **failure)


class StoreContract:
    """The behaviour every backend must have. Subclasses provide ``url`` and ``raw``."""

    store: Store
    url: str

    @pytest.fixture(autouse=True)
    def _store(self, url: str) -> Iterator[None]:
        self.url = url
        self.store = open_store(url)
        yield
        self.store.close()

    def raw(self, sql: str, params: tuple[Any, ...] = ()) -> None:
        """Write directly to the database, bypassing the store (to break rows)."""
        raise AssertionError("the backend test class must override raw()")

    # --- events ---------------------------------------------------------------------

    def test_append_to_new_stream_returns_version_and_read_stream_returns_events(self) -> None:
        assert self.store.stream_version("kitchen.ticket:T-1") == 0
        version = self.store.append("kitchen.ticket:T-1", 0, [event(n=1), event(n=2)])
        assert version == 2
        events = self.store.read_stream("kitchen.ticket:T-1")
        assert [(e.version, e.payload) for e in events] == [(1, {"n": 1}), (2, {"n": 2})]
        assert events[0].correlation_id == "corr-1"
        assert events[0].causation_id == "cause-1"
        assert events[0].event_type == "kitchen.ticket.created"
        assert self.store.stream_version("kitchen.ticket:T-1") == 2

    def test_second_connection_sees_appends_and_conflicts_on_stale_version(self) -> None:
        other = open_store(self.url)
        try:
            self.store.append("s", 0, [event()])
            assert other.stream_version("s") == 1
            with pytest.raises(ConcurrencyError):
                other.append("s", 0, [event()])
            assert other.append("s", 1, [event()]) == 2
            assert [e.version for e in self.store.read_stream("s")] == [1, 2]
        finally:
            other.close()

    def test_read_stream_from_version_skips_earlier_events(self) -> None:
        self.store.append("s", 0, [event(n=1), event(n=2), event(n=3)])
        assert [e.version for e in self.store.read_stream("s", from_version=2)] == [2, 3]

    def test_event_metadata_and_version_round_trip(self) -> None:
        new = NewEvent("a.b.c", {"x": [1, 2]}, "c", "d", event_version=2, metadata={"m": "v"})
        self.store.append("s", 0, [new])
        (stored,) = self.store.read_stream("s")
        assert stored.event_version == 2
        assert stored.metadata == {"m": "v"}
        assert stored.message_id == new.message_id

    def test_append_with_stale_expected_version_raises_and_appends_nothing(self) -> None:
        self.store.append("s", 0, [event()])
        with pytest.raises(ConcurrencyError) as raised:
            self.store.append("s", 0, [event(), event()])
        assert raised.value.stream_id == "s"
        assert raised.value.version == 1
        assert raised.value.expected_version == 0
        assert "reload the stream" in str(raised.value)
        assert self.store.stream_version("s") == 1

    def test_idempotency_key_stores_result_once_and_refuses_second_append(self) -> None:
        self.store.append("s", 0, [event()], idempotency_key="k-1", result={"ticket_id": "T-1"})
        with pytest.raises(DuplicateCommandError) as raised:
            self.store.append("s", 1, [event()], idempotency_key="k-1", result={"other": 1})
        assert raised.value.result == {"ticket_id": "T-1"}
        assert self.store.processed_result("k-1") == {"ticket_id": "T-1"}
        assert self.store.stream_version("s") == 1
        assert self.store.processed_result("unknown") is None

    def test_append_without_events_remembers_the_command(self) -> None:
        assert self.store.append("s", 0, [], idempotency_key="k-0", result={"ok": True}) == 0
        assert self.store.processed_result("k-0") == {"ok": True}

    def test_conflicting_append_with_key_does_not_store_the_key(self) -> None:
        self.store.append("s", 0, [event()])
        with pytest.raises(ConcurrencyError):
            self.store.append("s", 0, [event()], idempotency_key="k-2", result={})
        assert self.store.processed_result("k-2") is None

    def test_a_batch_of_appends_is_checked_in_order_and_written_whole(self) -> None:
        # 12 appends over 5 streams, some twice (the second at the first's new version).
        requests = [
            AppendRequest(f"s-{n % 5}", n // 5, [event(n=n)], f"k-{n}", {"n": n}) for n in range(12)
        ]
        assert self.store.append_many(requests) == [n // 5 + 1 for n in range(12)]
        assert [(e.stream_id, e.version, e.payload["n"]) for e in self.store.read_all()] == [
            (f"s-{n % 5}", n // 5 + 1, n) for n in range(12)
        ]
        assert [self.store.processed_result(f"k-{n}") for n in range(12)] == [
            {"n": n} for n in range(12)
        ]

    def test_a_batch_with_a_key_twice_or_a_stale_version_writes_nothing(self) -> None:
        self.store.append("s-0", 0, [event()], idempotency_key="k-old", result={"old": 1})
        fresh = [AppendRequest(f"t-{n}", 0, [event(n=n)], f"k-{n}", {}) for n in range(9)]
        twice = AppendRequest("t-9", 0, [event()], "k-3", {"again": 1})
        with pytest.raises(DuplicateCommandError) as duplicate:
            self.store.append_many([*fresh, twice])
        assert duplicate.value.result == {}  # what the first append with the key stored
        stored = AppendRequest("t-9", 0, [event()], "k-old", {})
        with pytest.raises(DuplicateCommandError) as earlier:
            self.store.append_many([*fresh, stored])
        assert earlier.value.result == {"old": 1}
        stale = AppendRequest("s-0", 0, [event()], None, None)
        with pytest.raises(ConcurrencyError) as conflict:
            self.store.append_many([*fresh, stale])
        assert (conflict.value.stream_id, conflict.value.version) == ("s-0", 1)
        assert [e.stream_id for e in self.store.read_all()] == ["s-0"]
        assert self.store.processed_result("k-0") is None

    def test_read_all_returns_events_of_all_streams_in_global_order(self) -> None:
        self.store.append("a", 0, [event(n=1)])
        self.store.append("b", 0, [event(n=2), event(n=3)])
        self.store.append("a", 1, [event(n=4)])
        every = self.store.read_all()
        assert [(e.stream_id, e.payload["n"]) for e in every] == [
            ("a", 1),
            ("b", 2),
            ("b", 3),
            ("a", 4),
        ]
        positions = [e.position for e in every]
        assert positions == sorted(positions)
        page = self.store.read_all(from_position=positions[0], limit=2)
        assert [e.payload["n"] for e in page] == [2, 3]

    def test_snapshot_save_load_and_replace(self) -> None:
        assert self.store.load_snapshot("s") is None
        self.store.save_snapshot("s", 3, {"status": "open"})
        self.store.save_snapshot("s", 5, {"status": "closed"})
        snapshot = self.store.load_snapshot("s")
        assert snapshot is not None
        assert (snapshot.version, snapshot.state) == (5, {"status": "closed"})

    def test_broken_json_payload_raises_store_error_naming_stream_and_version(self) -> None:
        self.store.append("kitchen.ticket:T-9", 0, [event(), event()])
        self.raw(
            "UPDATE events SET payload = '{not json' WHERE stream_id = 'kitchen.ticket:T-9' "
            "AND version = 2"
        )
        with pytest.raises(StoreError) as raised:
            self.store.read_stream("kitchen.ticket:T-9")
        assert raised.value.stream_id == "kitchen.ticket:T-9"
        assert raised.value.version == 2
        assert "'kitchen.ticket:T-9' version 2" in str(raised.value)
        assert "fix:" in str(raised.value)

    def test_payload_that_is_not_an_object_is_a_store_error(self) -> None:
        self.store.append("s", 0, [event()])
        self.raw("UPDATE events SET payload = '[1, 2]' WHERE stream_id = 's'")
        with pytest.raises(StoreError, match="not a JSON object"):
            self.store.read_stream("s")

    def test_version_gap_raises_store_error_naming_the_missing_version(self) -> None:
        self.store.append("s", 0, [event(), event(), event()])
        self.raw("DELETE FROM events WHERE stream_id = 's' AND version = 2")
        with pytest.raises(StoreError) as raised:
            self.store.read_stream("s")
        assert (raised.value.stream_id, raised.value.version) == ("s", 2)
        assert "version 2 is missing" in str(raised.value)

    def test_unserialisable_payload_is_refused_before_writing(self) -> None:
        with pytest.raises(StoreError, match="not JSON-serialisable"):
            self.store.append("s", 0, [NewEvent("a.b.c", {"x": object()}, "c", "d")])
        assert self.store.stream_version("s") == 0

    # --- operational tables ---------------------------------------------------------

    def test_query_runs_read_only_sql_with_question_mark_placeholders(self) -> None:
        self.store.append("s", 0, [event(n=1), event(n=2)])
        rows = self.store.query(
            "SELECT version, event_type FROM events WHERE stream_id = ? AND payload LIKE '%n%' "
            "ORDER BY version",
            ("s",),
        )
        assert rows == [(1, "kitchen.ticket.created"), (2, "kitchen.ticket.created")]
        assert self.store.query("SELECT AVG(version) FROM events") == [(1.5,)]

    def test_query_refuses_writes(self) -> None:
        self.store.append("s", 0, [event()])
        with pytest.raises(StoreError, match="read-only"):
            self.store.query("DELETE FROM events")
        assert self.store.stream_version("s") == 1

    def test_query_with_bad_sql_names_the_statement(self) -> None:
        with pytest.raises(StoreError, match="no_such_table"):
            self.store.query("SELECT * FROM no_such_table")

    def test_log_message_writes_actor_message_log(self) -> None:
        self.store.log_message(
            message_id="m-1",
            actor="kitchen.ticket",
            message_name="CreateTicket",
            correlation_id=None,
            causation_id="c-1",
            received_at=10.0,
            handled_ms=1.5,
            outcome="ok",
            error=None,
        )
        rows = self.store.query(
            "SELECT actor, message_name, correlation_id, handled_ms, outcome FROM actor_message_log"
        )
        assert rows == [("kitchen.ticket", "CreateTicket", None, 1.5, "ok")]

    def test_log_messages_writes_a_batch_in_order(self) -> None:
        # 12 entries: a COPY on PostgreSQL (from 8 rows), an executemany on SQLite.
        entries = [
            MessageLogEntry(
                f"m-{n}", "ordering.order", "create", "c", f"m-{n - 1}", float(n), 0.5, "ok"
            )
            for n in range(1, 13)
        ]
        entries[5] = MessageLogEntry(
            "m-6", "ordering.order", "create", None, None, 6.0, 2.5, "error", "boom"
        )
        self.store.log_messages(entries)
        rows = self.store.query(
            "SELECT message_id, actor, message_name, correlation_id, causation_id, received_at, "
            "handled_ms, outcome, error FROM actor_message_log ORDER BY seq"
        )
        assert [MessageLogEntry(*row) for row in rows] == entries

    def test_external_call_is_recorded_once_per_key_and_updated(self) -> None:
        call = saga_fakes.external_call(
            "k", "done", system="payments", request={"amount": 10}, response={"auth_id": "auth-1"}
        )
        assert self.store.record_external_call(call) is True
        assert self.store.record_external_call(call) is False
        updated = self.store.update_external_call("k", status="undone", updated_at=2.0)
        assert (updated.status, updated.updated_at, updated.response) == (
            "undone",
            2.0,
            {"auth_id": "auth-1"},
        )
        assert self.store.get_external_call("k") == updated
        assert self.store.list_external_calls(system="payments", status="undone") == [updated]
        assert self.store.list_external_calls(status="done") == []
        with pytest.raises(StoreError, match="record_external_call"):
            self.store.update_external_call("missing", status="undone", updated_at=3.0)

    def test_ledger_writes_are_made_in_order_in_one_transaction(self) -> None:
        made = saga_fakes.external_call("a", "running")
        answers = self.store.write_external_calls(
            [
                made,
                ExternalCallUpdate("a", {"status": "completed", "updated_at": 2.0}),
                made,  # its key has a row by now
                ExternalCallUpdate(
                    "a", {"status": "undone", "updated_at": 3.0, "from_status": "running"}
                ),
            ]
        )
        assert answers[0] is True and answers[2] is False
        completed = self.store.get_external_call("a")
        assert completed is not None and completed.status == "completed"
        assert answers[1] == completed and answers[3] == completed  # not running: unchanged
        with pytest.raises(StoreError, match="record_external_call"):
            self.store.write_external_calls(
                [
                    saga_fakes.external_call("b", "done"),
                    ExternalCallUpdate("missing", {"status": "undone", "updated_at": 3.0}),
                ]
            )
        assert self.store.get_external_call("b") is None  # one failed: none was made

    def test_external_call_updated_from_a_status_only_when_it_is_still_in_it(self) -> None:
        self.store.record_external_call(saga_fakes.external_call("k", "unknown"))
        done = self.store.update_external_call(
            "k", status="done", updated_at=2.0, from_status="unknown"
        )
        assert done.status == "done"
        kept = self.store.update_external_call(
            "k", status="cancelled", updated_at=3.0, from_status="unknown"
        )
        assert kept == done == self.store.get_external_call("k")
        with pytest.raises(StoreError, match="record_external_call"):
            self.store.update_external_call(
                "missing", status="done", updated_at=3.0, from_status="unknown"
            )

    def test_record_validation_returns_id_and_checks_columns(self) -> None:
        row: dict[str, Any] = {
            "system": "ftgo",
            "profile": "dev",
            "validated_at": 5.0,
            "sagas_total": 10,
            "success_rate": 0.9,
            "step_latency_p95_ms": 12.0,
            "step_latency_p99_ms": 20.0,
            "consistency_score": 1.0,
            "passed": True,
            "report": {"gates": []},
        }
        first = self.store.record_validation(**row)
        second = self.store.record_validation(**row)
        assert second > first
        assert self.store.query("SELECT passed, report FROM consistency_validations") == [
            (1, '{"gates":[]}'),
            (1, '{"gates":[]}'),
        ]
        with pytest.raises(StoreError, match="unknown columns"):
            self.store.record_validation(**row, verdict="ok")

    # --- saga persistence -----------------------------------------------------------

    def test_a_batch_of_plain_transitions_is_written_and_a_replay_of_it_is_a_no_op(
        self,
    ) -> None:
        def step(i: int, index: int = 0, status: str = "started") -> StepLogEntry:
            key = f"s-{i}:{index}:forward:1"
            return step_row(status, saga_id=f"s-{i}", step_index=index, idempotency_key=key)

        batch = [SagaTransition(create=saga_row(f"s-{i}"), step=step(i)) for i in range(3)]
        assert self.store.apply_saga_transitions(batch) == [TransitionIds()] * 3
        assert self.store.apply_saga_transitions(batch) == [TransitionIds()] * 3, "replayed"
        moved = [
            SagaTransition(
                update=SagaUpdate(saga_id=f"s-{i}", updated_at=101.0, step_index=1),
                step=step(i, 0, "succeeded"),
                next_step=step(i, 1),
            )
            for i in range(2)
        ]
        self.store.apply_saga_transitions(moved)
        assert {s.saga_id: s.step_index for s in self.store.list_sagas()} == {
            "s-0": 1,
            "s-1": 1,
            "s-2": 0,
        }
        assert len(self.store.step_log("s-0")) == 3 and len(self.store.step_log("s-2")) == 1
        missing = SagaTransition(update=SagaUpdate(saga_id="nope", updated_at=1.0, step_index=1))
        with pytest.raises(StoreError, match="'nope' does not exist"):
            self.store.apply_saga_transitions([moved[0], missing])

    def test_step_logs_reads_the_log_of_every_saga_in_the_given_states(self) -> None:
        for i, state in enumerate(("running", "compensating", "completed")):
            key = f"s-{i}:0:forward:1"
            self.store.apply_saga_transition(
                SagaTransition(
                    create=saga_fakes.saga_row(f"s-{i}", state, 100.0 + i),
                    step=step_row(saga_id=f"s-{i}", idempotency_key=key),
                    next_step=step_row("succeeded", saga_id=f"s-{i}", idempotency_key=key),
                )
            )
        logs = self.store.step_logs(["running", "compensating"])
        assert sorted(logs) == ["s-0", "s-1"]
        assert [row.status for row in logs["s-1"]] == ["started", "succeeded"]
        assert self.store.step_logs([]) == {}

    def test_stored_runs_reads_each_named_saga_with_its_steps_and_dead_letters(self) -> None:
        for i in range(3):
            key = f"s-{i}:0:forward:1"
            self.store.apply_saga_transition(
                SagaTransition(
                    create=saga_fakes.saga_row(f"s-{i}", "running", 100.0 + i),
                    step=step_row(saga_id=f"s-{i}", idempotency_key=key),
                    next_step=step_row(
                        "succeeded", saga_id=f"s-{i}", idempotency_key=key, result={"n": i}
                    ),
                )
            )
        self.store.apply_saga_transition(
            SagaTransition(
                step=step_row("failed", phase="compensation", error="down"),
                dead_letter=dead_letter(),  # of saga s-1
            )
        )
        runs = self.store.stored_runs(["s-2", "s-1", "nope", "s-1"])
        assert sorted(runs) == ["s-1", "s-2"], "those named that exist, each once"
        for saga_id in ("s-1", "s-2"):
            assert runs[saga_id].saga == self.store.get_saga(saga_id)
            assert runs[saga_id].steps == self.store.step_log(saga_id)
            assert runs[saga_id].dead_letters == self.store.list_dead_letters(saga_id=saga_id)
        assert [letter.step_name for letter in runs["s-1"].dead_letters] == ["create_ticket"]
        assert runs["s-2"].dead_letters == []
        assert self.store.stored_runs([]) == {}

    def test_a_lease_is_claimed_once_renewed_taken_over_when_expired_and_fences_writes(
        self,
    ) -> None:
        for i in range(3):
            self.store.apply_saga_transition(
                SagaTransition(create=saga_fakes.saga_row(f"s-{i}", "running", 100.0 + i))
            )
        active = ["running", "waiting", "compensating"]
        claim = self.store.claim_sagas
        assert claim("w1", states=active, limit=2, lease_s=10, now=1000.0) == {"s-0": 1, "s-1": 1}
        assert claim("w2", states=active, limit=5, lease_s=10, now=1001.0) == {"s-2": 1}
        assert claim("w3", states=active, limit=5, lease_s=10, now=1002.0) == {}, "all held"
        assert self.store.renew_leases("w1", until=1012.0) == {"s-0": 1, "s-1": 1}
        # w1 pauses past its lease: w3 takes s-0 over with the next generation.
        assert claim("w3", states=active, limit=1, lease_s=10, now=1013.0) == {"s-0": 2}
        assert self.store.renew_leases("w1", until=1025.0) == {"s-1": 1}, "s-0 is lost"

        def update(fence: Fence, step_index: int) -> SagaTransition:
            saga = SagaUpdate(saga_id="s-0", updated_at=1014.0, step_index=step_index)
            return SagaTransition(update=saga, fence=fence)

        with pytest.raises(LeaseLost, match="'w1' lost its lease"):
            self.store.apply_saga_transition(update(Fence("w1", 1), 2))
        with pytest.raises(LeaseLost):
            self.store.apply_saga_transitions([update(Fence("w1", 1), 2)])
        self.store.apply_saga_transitions([update(Fence("w3", 2), 1)])
        saga = self.store.get_saga("s-0")
        assert saga is not None and saga.step_index == 1, "only the owner's write is in"
        self.store.release_lease("w3", "s-0")
        assert claim("w2", states=active, limit=1, lease_s=10, now=1014.0) == {"s-0": 3}

    def test_saga_transition_creates_updates_and_logs_in_one_call(self) -> None:
        ids = self.store.apply_saga_transition(SagaTransition(create=saga_row(), step=step_row()))
        assert ids == TransitionIds(dead_letter_id=None, alert_id=None)
        self.store.apply_saga_transition(
            SagaTransition(
                update=SagaUpdate(
                    saga_id="s-1",
                    updated_at=101.0,
                    step_index=1,
                    steps_completed=1,
                    data={"order_id": "o-1", "ticket_id": "T-1"},
                ),
                step=step_row("succeeded", result={"ticket_id": "T-1"}, latency_ms=3.0),
            )
        )
        saga = self.store.get_saga("s-1")
        assert saga is not None
        assert (saga.state, saga.step_index, saga.steps_completed) == ("running", 1, 1)
        assert saga.data == {"order_id": "o-1", "ticket_id": "T-1"}
        assert saga.pivot_index == 1
        log = self.store.step_log("s-1")
        assert [(row.status, row.result) for row in log] == [
            ("started", None),
            ("succeeded", {"ticket_id": "T-1"}),
        ]
        assert log[0].seq is not None and log[1].seq is not None and log[0].seq < log[1].seq
        assert [s.saga_id for s in self.store.list_sagas(["running"])] == ["s-1"]
        assert self.store.list_sagas(["completed"]) == []
        assert self.store.get_saga("missing") is None

    def test_failed_saga_transition_writes_nothing(self) -> None:
        with pytest.raises(StoreError, match="does not exist"):
            self.store.apply_saga_transition(
                SagaTransition(
                    update=SagaUpdate(saga_id="missing", updated_at=1.0, state="completed"),
                    step=step_row(saga_id="missing"),
                )
            )
        assert self.store.step_log("missing") == []

    def test_saga_update_can_clear_ended_at_and_error(self) -> None:
        self.store.apply_saga_transition(SagaTransition(create=saga_row()))
        self.store.apply_saga_transition(
            SagaTransition(
                update=SagaUpdate("s-1", 2.0, state="compensation_failed", ended_at=2.0, error="x")
            )
        )
        self.store.apply_saga_transition(
            SagaTransition(update=SagaUpdate("s-1", 3.0, state="compensating", ended_at=None))
        )
        saga = self.store.get_saga("s-1")
        assert saga is not None
        assert (saga.state, saga.ended_at, saga.error) == ("compensating", None, "x")

    def test_dead_letter_is_parked_listed_and_redriven(self) -> None:
        self.store.apply_saga_transition(SagaTransition(create=saga_row()))
        ids = self.store.apply_saga_transition(
            SagaTransition(
                step=step_row("failed", phase="compensation", error="down"),
                dead_letter=dead_letter(),
            )
        )
        assert ids.dead_letter_id is not None
        (parked,) = self.store.list_dead_letters(status="parked")
        assert parked.id == ids.dead_letter_id
        assert parked.payload == {"step_result": {"ticket_id": "T-1"}}
        self.store.update_dead_letter(
            DeadLetterUpdate(id=parked.id, status="redriven", updated_at=5.0, attempts=4)
        )
        letter = self.store.get_dead_letter(parked.id)
        assert letter is not None
        assert (letter.status, letter.attempts, letter.error) == (
            "redriven",
            4,
            "kitchen unavailable",
        )
        assert self.store.list_dead_letters(status="parked") == []
        assert len(self.store.list_dead_letters(saga_id="s-1")) == 1
        message = {"target": "kitchen.ticket", "payload": {"name": "CreateTicket"}}
        letter = saga_fakes.parked_letter("message", 1.0, error="actor stopped", **message)
        message_id = self.store.add_dead_letter(letter)
        assert message_id > parked.id
        with pytest.raises(StoreError, match="list_dead_letters"):
            self.store.update_dead_letter(DeadLetterUpdate(id=999, status="resolved", updated_at=1))


class TestSqliteStore(StoreContract):
    @pytest.fixture
    def url(self, sqlite_url: str) -> str:
        return sqlite_url

    def raw(self, sql: str, params: tuple[Any, ...] = ()) -> None:
        conn = sqlite3.connect(self.url.removeprefix("sqlite://"))
        with conn:
            conn.execute(sql, params)
        conn.close()


@pytest.mark.postgres
class TestPostgresStore(StoreContract):
    @pytest.fixture
    def url(self, postgres_url: str) -> str:
        return postgres_url

    def raw(self, sql: str, params: tuple[Any, ...] = ()) -> None:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(sql, params or None)
