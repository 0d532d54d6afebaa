"""The dossier's measurement windows: success rate per 5 minutes, latency per minute;
a gate is judged on its worst window, so a bad five minutes cannot hide in a good day."""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Iterator
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from sagacrew.agents.validator.metrics import read_census
from sagacrew.agents.validator.metrics import worst_window_percentile

SCHEMA = Path(__file__).resolve().parent.parent / "runtime" / "store" / "schema.sql"


class Db:
    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection
        self.keys = itertools.count()  # each step-log row has its own idempotency key

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return list(self.connection.execute(sql, tuple(params)))

    def saga(self, saga_id: str, state: str, ended_at: float) -> None:
        self.connection.execute(
            "INSERT INTO saga_executions (saga_id, saga_name, state, step_index, steps_total, "
            "data, correlation_id, causation_id, started_at, updated_at, deadline_at, "
            "ended_at) VALUES (?, 's', ?, 0, 1, '{}', 'c', 'c', 0, 0, 0, ?)",
            (saga_id, state, ended_at),
        )

    def step(self, latency_ms: float, ended_at: float) -> None:
        self.connection.execute(
            "INSERT INTO saga_step_log (saga_id, step_index, step_name, phase, status, attempt, "
            "idempotency_key, started_at, ended_at, latency_ms, correlation_id, causation_id) "
            "VALUES ('x', 0, 'a', 'forward', 'succeeded', 1, ?, 0, ?, ?, 'c', 'c')",
            (f"k-{next(self.keys)}", ended_at, latency_ms),
        )


@pytest.fixture
def db() -> Iterator[Db]:
    connection = sqlite3.connect(":memory:")
    connection.executescript(SCHEMA.read_text("utf-8"))
    yield Db(connection)
    connection.close()


def test_success_rate_is_the_worst_five_minute_window(db: Db) -> None:
    for n in range(20):  # 00:00-00:05: all complete
        db.saga(f"good-{n}", "completed", 10.0 + n)
    for n in range(10):  # 00:05-00:10: half compensate
        db.saga(f"bad-{n}", "completed" if n % 2 else "compensated", 310.0 + n)
    assert read_census(db).success_rate == pytest.approx(0.5)


def test_success_rate_of_one_window_is_the_plain_ratio(db: Db) -> None:
    for n in range(10):
        db.saga(f"s-{n}", "completed" if n else "compensated", 100.0 + n)
    assert read_census(db).success_rate == pytest.approx(0.9)


def test_step_latency_gate_takes_the_slowest_minute(db: Db) -> None:
    for n in range(100):
        db.step(5.0, 1.0 + n * 0.1)  # minute 0: fast
    for n in range(100):
        db.step(5.0 if n < 90 else 400.0, 61.0 + n * 0.1)  # minute 1: a slow tail
    assert worst_window_percentile(db, 95) == 400.0
    assert worst_window_percentile(db, 50) == 5.0


def test_no_steps_means_zero_latency(db: Db) -> None:
    assert worst_window_percentile(db, 99) == 0.0


def test_windows_count_from_the_first_end_so_a_short_run_is_one_window(db: Db) -> None:
    boundary = 300.0 * 1000  # a clock boundary falls in the middle of the run
    for n in range(40):
        db.saga(f"a-{n}", "completed", boundary - 20.0 + n * 0.1)
    for n in range(10):
        db.saga(f"b-{n}", "compensated" if n < 2 else "completed", boundary + 5.0 + n)
    assert read_census(db).success_rate == pytest.approx(48 / 50)
