"""The built-in checks and the verdict, on SQLite and on PostgreSQL, from hand-written rows.

``SqliteRunner`` and ``PostgresRunner`` are minimal stand-ins for the runtime's store
(``SqlRunner``), built from the store's own schema files; every test runs on both, so the
built-in SQL is proven portable.
"""

import json
import sqlite3
from collections.abc import Iterator
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
from saga_fakes import step_entry

from sagacrew.agents.blueprint import ValidationQuery
from sagacrew.agents.spec.model import Thresholds
from sagacrew.agents.validator import CheckQueryError
from sagacrew.agents.validator import CheckResult
from sagacrew.agents.validator import Verdict
from sagacrew.agents.validator import builtin_queries
from sagacrew.agents.validator import compute_verdict
from sagacrew.agents.validator import record_verdict
from sagacrew.agents.validator import run_check
from sagacrew.agents.validator import write_reports

STORE = Path(__file__).parents[1] / "runtime" / "store"
DEV = Thresholds(success_rate_min=0.90, consistency_score_min=0.95)
PROD = Thresholds(success_rate_min=0.995, consistency_score_min=0.999)
NOW = 1_000.0


class _Rows:
    """``SqlRunner`` plus insert helpers for hand-written rows; backends provide ``query``."""

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        raise AssertionError("each backend runner provides query")

    def record_validation(self, **row: Any) -> int:
        [(row_id,)] = self.query(
            f"INSERT INTO consistency_validations ({', '.join(row)}) "
            f"VALUES ({', '.join('?' for _ in row)}) RETURNING id",
            list(row.values()),
        )
        return int(row_id)

    def insert(self, table: str, **row: Any) -> None:
        self.query(
            f"INSERT INTO {table} ({', '.join(row)}) VALUES ({', '.join('?' for _ in row)})",
            list(row.values()),
        )

    def saga(self, saga_id: str, state: str, *, total: int = 3, done: int = 3, **more: Any) -> None:
        row: dict[str, Any] = {
            "saga_id": saga_id,
            "saga_name": "order_fulfilment",
            "state": state,
            "step_index": done,
            "steps_total": total,
            "steps_completed": done,
            "data": "{}",
            "correlation_id": saga_id,
            "causation_id": saga_id,
            "started_at": 0.0,
            "updated_at": 1.0,
            "deadline_at": 2_000.0,
        }
        row.update(more)
        self.insert("saga_executions", **row)

    def step(
        self,
        saga_id: str,
        index: int,
        phase: str,
        status: str,
        *,
        attempt: int = 1,
        latency_ms: float | None = 10.0,
        compensatable: int = 1,
    ) -> None:
        entry = step_entry(
            saga_id,
            index,
            f"step_{index}",
            phase,
            status,
            attempt,
            compensatable=bool(compensatable),
            latency_ms=latency_ms,
            correlation_id=saga_id,
            causation_id=saga_id,
        )
        row = {name: value for name, value in asdict(entry).items() if value is not None}
        self.insert("saga_step_log", **(row | {"compensatable": compensatable}))

    def dead_letter(self, saga_id: str, index: int, status: str = "parked") -> None:
        self.insert(
            "dead_letters",
            kind="compensation",
            saga_id=saga_id,
            step_index=index,
            step_name=f"step_{index}",
            payload="{}",
            error="boom",
            attempts=3,
            status=status,
            correlation_id=saga_id,
            causation_id=saga_id,
            created_at=0.0,
            updated_at=0.0,
        )

    def event(self, stream_id: str, version: int) -> None:
        self.insert(
            "events",
            stream_id=stream_id,
            version=version,
            event_type="orders.order.created",
            payload="{}",
            message_id=f"{stream_id}@{version}",
            correlation_id="c",
            causation_id="c",
            recorded_at=0.0,
        )

    def message(
        self, message_id: str, correlation_id: str | None, causation_id: str | None
    ) -> None:
        self.insert(
            "actor_message_log",
            message_id=message_id,
            actor="kitchen.ticket",
            message_name="create_ticket",
            correlation_id=correlation_id,
            causation_id=causation_id,
            received_at=0.0,
            handled_ms=1.0,
            outcome="ok",
        )


class SqliteRunner(_Rows):
    """A sqlite3 file holding the store's tables (``schema.sql``)."""

    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.executescript((STORE / "schema.sql").read_text(encoding="utf-8"))

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        cursor = self.conn.execute(sql, list(params))
        return [tuple(row) for row in cursor.fetchall()] if cursor.description else []


class PostgresRunner(_Rows):
    """A PostgreSQL schema holding the store's tables (``schema_postgres.sql``)."""

    def __init__(self, url: str) -> None:
        import psycopg

        self.conn = psycopg.connect(url, autocommit=True)
        self.conn.execute((STORE / "schema_postgres.sql").read_text(encoding="utf-8"))

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        assert "%" not in sql, "the built-in SQL must not need escaping for psycopg"
        cursor = self.conn.execute(sql.replace("?", "%s"), list(params))
        return [tuple(row) for row in cursor.fetchall()] if cursor.description else []


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[_Rows]:
    """Each backend in turn: a fresh SQLite file, then a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        lite = SqliteRunner(tmp_path / "runtime.db")
        yield lite
        lite.conn.close()
    else:
        pg = PostgresRunner(request.getfixturevalue("postgres_url"))
        yield pg
        pg.conn.close()


def _query(name: str) -> ValidationQuery:
    [query] = [q for q in builtin_queries() if q.name == name]
    return query


def _check(db: _Rows, name: str) -> tuple[int, list[str]]:
    result, _ = run_check(db, _query(name), now=NOW)
    return result.subjects, result.violations


def _compensated_properly(db: _Rows, saga_id: str) -> None:
    """Steps 0 and 1 done, step 2 failed, compensations of 1 then 0 succeeded."""
    db.saga(saga_id, "compensated", done=2)
    db.step(saga_id, 0, "forward", "succeeded")
    db.step(saga_id, 1, "forward", "succeeded")
    db.step(saga_id, 2, "forward", "failed", latency_ms=None)
    db.step(saga_id, 1, "compensation", "succeeded")
    db.step(saga_id, 0, "compensation", "succeeded")


def test_builtin_queries_are_the_six_named_checks_in_order() -> None:
    assert [q.name for q in builtin_queries()] == [
        "sagas_terminal_or_within_deadline",
        "compensated_steps_in_reverse_order",
        "failed_compensations_dead_lettered",
        "event_streams_have_no_version_gaps",
        "messages_carry_correlation_and_causation",
        "completed_sagas_have_all_steps",
    ]


def test_builtin_sql_is_portable_one_line_and_binds_only_declared_params() -> None:
    for query in builtin_queries():
        for sql in (query.violations_sql, query.subjects_sql):
            assert "%" not in sql and "json" not in sql.lower() and "\n" not in sql
        assert query.violations_sql.count("?") == len(query.params)
        assert "?" not in query.subjects_sql


def test_every_builtin_check_runs_on_an_empty_database(db: _Rows) -> None:
    for query in builtin_queries():
        result, _ = run_check(db, query, now=NOW)
        assert (result.subjects, result.violation_count) == (0, 0)


def test_non_terminal_saga_past_its_deadline_is_a_violation(db: _Rows) -> None:
    db.saga("late", "running", done=1, deadline_at=NOW - 1)
    db.saga("in-time", "waiting", done=1, deadline_at=NOW + 1)
    db.saga("done-late", "completed", deadline_at=NOW - 500)
    assert _check(db, "sagas_terminal_or_within_deadline") == (3, ["late"])


def test_compensations_missing_or_in_forward_order_are_violations(db: _Rows) -> None:
    _compensated_properly(db, "ok")
    db.saga("missing", "compensated", done=2)
    db.step("missing", 0, "forward", "succeeded")
    db.step("missing", 1, "forward", "succeeded")
    db.step("missing", 1, "compensation", "succeeded")
    db.saga("forward-order", "compensated", done=2)
    db.step("forward-order", 0, "forward", "succeeded")
    db.step("forward-order", 1, "forward", "succeeded")
    db.step("forward-order", 0, "compensation", "succeeded")
    db.step("forward-order", 1, "compensation", "succeeded")
    db.saga("not-compensatable", "compensated", done=1)
    db.step("not-compensatable", 0, "forward", "succeeded", compensatable=0)
    assert _check(db, "compensated_steps_in_reverse_order") == (
        4,
        ["forward-order", "missing"],
    )


def test_parked_dead_letter_excuses_a_missing_compensation_only_when_failed(
    db: _Rows,
) -> None:
    for saga_id, state in (("failed", "compensation_failed"), ("claims-ok", "compensated")):
        db.saga(saga_id, state, done=2)
        db.step(saga_id, 0, "forward", "succeeded")
        db.step(saga_id, 1, "forward", "succeeded")
        db.step(saga_id, 1, "compensation", "failed", attempt=3)
        db.dead_letter(saga_id, 1)
        db.step(saga_id, 0, "compensation", "succeeded")
    assert _check(db, "compensated_steps_in_reverse_order") == (2, ["claims-ok"])


def test_redriven_compensation_succeeding_last_is_not_an_order_violation(
    db: _Rows,
) -> None:
    db.saga("redriven", "compensated", done=2)
    db.step("redriven", 0, "forward", "succeeded")
    db.step("redriven", 1, "forward", "succeeded")
    db.step("redriven", 1, "compensation", "failed", attempt=3)
    db.dead_letter("redriven", 1, status="redriven")
    db.step("redriven", 0, "compensation", "succeeded")
    db.step("redriven", 1, "compensation", "succeeded", attempt=4)
    assert _check(db, "compensated_steps_in_reverse_order") == (1, [])


def test_failed_compensations_must_be_dead_lettered(db: _Rows) -> None:
    db.saga("parked", "compensation_failed", done=1)
    db.step("parked", 0, "compensation", "failed", attempt=3)
    db.dead_letter("parked", 0)
    db.saga("unparked", "compensation_failed", done=1)
    db.step("unparked", 0, "compensation", "failed", attempt=3)
    db.saga("retried", "compensated", done=1)
    db.step("retried", 0, "compensation", "failed", attempt=1)
    db.step("retried", 0, "compensation", "succeeded", attempt=2)
    db.saga("dropped", "compensated", done=2)
    db.step("dropped", 1, "compensation", "failed", attempt=3)
    db.step("dropped", 0, "compensation", "succeeded")
    db.saga("in-flight", "compensating", done=1)
    db.step("in-flight", 0, "compensation", "failed", attempt=1)
    assert _check(db, "failed_compensations_dead_lettered") == (4, ["dropped", "unparked"])


def test_event_stream_with_a_gap_or_not_starting_at_one_is_a_violation(db: _Rows) -> None:
    for stream_id, versions in (("a", (1, 2, 3)), ("gap", (1, 2, 4)), ("late", (2, 3))):
        for version in versions:
            db.event(stream_id, version)
    assert _check(db, "event_streams_have_no_version_gaps") == (3, ["gap", "late"])


def test_messages_with_null_or_empty_ids_are_violations(db: _Rows) -> None:
    db.message("m1", "c", "c")
    db.message("m2", None, "c")
    db.message("m3", "c", "")
    assert _check(db, "messages_carry_correlation_and_causation") == (
        3,
        ["kitchen.ticket create_ticket m2", "kitchen.ticket create_ticket m3"],
    )


def test_completed_saga_with_steps_left_is_a_violation(db: _Rows) -> None:
    db.saga("whole", "completed")
    db.saga("partial", "completed", done=2)
    db.saga("compensated", "compensated", done=1)
    assert _check(db, "completed_sagas_have_all_steps") == (2, ["partial"])


def test_check_keeps_twenty_violations_but_counts_all(db: _Rows) -> None:
    for n in range(25):
        db.saga(f"late-{n:02d}", "running", done=0, deadline_at=0.0)
    result, everything = run_check(db, _query("sagas_terminal_or_within_deadline"), now=NOW)
    assert (result.violation_count, len(result.violations), len(everything)) == (25, 20, 25)
    assert result.violations[-1] == "late-19"


def test_failing_sql_raises_check_query_error_naming_the_check(db: _Rows) -> None:
    query = ValidationQuery(
        name="broken", description="", violations_sql="SELECT nope FROM nowhere", subjects_sql=""
    )
    with pytest.raises(CheckQueryError, match="'broken'"):
        run_check(db, query, now=NOW)


def _realistic_mix(db: _Rows) -> None:
    """18 completed sagas, 1 properly compensated, 1 whose compensation was dropped.

    Succeeded forward steps get latencies 3, 6, ... 174 ms (58 steps) in insertion order.
    """
    latencies = iter(range(3, 175, 3))
    for n in range(18):
        saga_id = f"S-{n:02d}"
        db.saga(saga_id, "completed")
        for index in range(3):
            db.step(saga_id, index, "forward", "succeeded", latency_ms=next(latencies))
        db.event(f"orders.order:{saga_id}", 1)
        db.event(f"orders.order:{saga_id}", 2)
        db.message(f"{saga_id}-m", saga_id, saga_id)
    for saga_id, state in (("S-comp", "compensated"), ("S-broken", "compensation_failed")):
        db.saga(saga_id, state, done=2)
        db.step(saga_id, 0, "forward", "succeeded", latency_ms=next(latencies))
        db.step(saga_id, 1, "forward", "succeeded", latency_ms=next(latencies))
        db.step(saga_id, 2, "forward", "failed", latency_ms=900.0)
    db.step("S-comp", 1, "compensation", "succeeded")
    db.step("S-comp", 0, "compensation", "succeeded")
    for attempt in (1, 2, 3):
        db.step("S-broken", 1, "compensation", "failed", attempt=attempt)
    db.step("S-broken", 0, "compensation", "succeeded")


def verdict_of(db: _Rows, profile: str, **options: Any) -> Verdict:
    """The shop's verdict on ``db`` at ``NOW``: the built-in checks, ``DEV`` or ``PROD``."""
    thresholds = DEV if profile == "dev" else PROD
    return compute_verdict(
        db,
        system="shop",
        profile=profile,
        thresholds=thresholds,
        queries=builtin_queries(),
        now=NOW,
        **options,
    )


def test_realistic_run_passes_dev_gates_with_exact_figures(db: _Rows) -> None:
    _realistic_mix(db)
    verdict = verdict_of(db, "dev")
    assert verdict.sagas_total == 20
    assert verdict.success_rate == pytest.approx(18 / 20)
    # 58 latencies 3..174 ms: p95 = rank ceil(55.1) = 56 -> 168 ms; p99 = rank 58 -> 174 ms.
    assert (verdict.step_latency_p95_ms, verdict.step_latency_p99_ms) == (168.0, 174.0)
    # subjects 20 + 2 + 1 + 18 + 18 + 18 = 77; violations: S-broken in two checks.
    assert verdict.consistency_score == pytest.approx(1 - 2 / 77)
    assert {c.name: c.violations for c in verdict.checks if c.violations} == {
        "compensated_steps_in_reverse_order": ["S-broken"],
        "failed_compensations_dead_lettered": ["S-broken"],
    }
    assert verdict.failed_sagas == ["S-broken"]
    assert [(g.name, g.passed) for g in verdict.gates] == [
        ("success_rate", True),
        ("step_latency_p95_ms", True),
        ("step_latency_p99_ms", True),
        ("consistency_score", True),
    ]
    assert verdict.passed


def test_same_run_fails_prod_on_success_rate_and_consistency(db: _Rows) -> None:
    _realistic_mix(db)
    verdict = verdict_of(db, "prod")
    assert [g.name for g in verdict.gates if not g.passed] == [
        "success_rate",
        "consistency_score",
    ]
    assert not verdict.passed


def test_lint_findings_fail_an_otherwise_passing_verdict(db: _Rows) -> None:
    _realistic_mix(db)
    finding = "saga.py:3:1: SAGA-L001 compensation undo() is a stub: it does nothing; raise"
    verdict = verdict_of(db, "dev", lint_findings=[finding])
    assert all(g.passed for g in verdict.gates)
    assert not verdict.passed
    assert verdict.lint_findings == [finding]


def test_empty_database_passes_with_neutral_figures(db: _Rows) -> None:
    verdict = verdict_of(db, "prod")
    assert (verdict.success_rate, verdict.consistency_score) == (1.0, 1.0)
    assert (verdict.step_latency_p95_ms, verdict.step_latency_p99_ms) == (0.0, 0.0)
    assert verdict.passed


def test_verdict_is_recorded_as_a_consistency_validations_row(db: _Rows) -> None:
    _realistic_mix(db)
    verdict = verdict_of(db, "prod")
    row_id = record_verdict(db, verdict, now=1234.5)
    [row] = db.query(
        "SELECT id, system, profile, validated_at, sagas_total, step_latency_p95_ms, passed, "
        "report FROM consistency_validations"
    )
    assert row[:7] == (row_id, "shop", "prod", 1234.5, 20, 168.0, 0)
    assert json.loads(row[7])["failed_sagas"] == ["S-broken"]


def test_reports_are_written_from_a_computed_verdict(db: _Rows, tmp_path: Path) -> None:
    _realistic_mix(db)
    verdict = verdict_of(db, "prod")
    markdown, report = write_reports(verdict, tmp_path / "out")
    text = markdown.read_text(encoding="utf-8")
    assert "| success_rate | 90.00 % | >= 99.50 % | FAIL |" in text
    assert "| step_latency_p95_ms | 168.0 ms | <= 200.0 ms | PASS |" in text
    assert "| failed_compensations_dead_lettered | 1 | 1 | `S-broken` |" in text
    assert json.loads(report.read_text(encoding="utf-8")) == json.loads(verdict.to_json())


def test_a_failing_blocking_check_fails_the_verdict_whatever_the_score(db: _Rows) -> None:
    _realistic_mix(db)
    tests = CheckResult(
        name="generated_tests_pass",
        description="The generated test suite passes.",
        subjects=50,
        violations=["test_create_order_completes_every_step"],
    )
    verdict = verdict_of(db, "dev", extra_checks=[tests], blocking=["generated_tests_pass"])
    assert verdict.consistency_score > DEV.consistency_score_min
    assert [(g.name, g.measured, g.passed) for g in verdict.gates][-1] == (
        "generated_tests_pass",
        1,
        False,
    )
    assert not verdict.passed
