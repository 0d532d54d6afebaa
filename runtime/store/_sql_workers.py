"""The SQL store's worker registry and cluster-wide switches (``saga_workers``,
``saga_controls``; see :mod:`._lease_recorder`)."""

from __future__ import annotations

from dataclasses import astuple

from sagacrew.runtime.store._records import WorkerCounts, WorkerRecord
from sagacrew.runtime.store._sql_base import SqlBase

_WORKER_COLUMNS = (
    "worker_id, lease_s, started_at, seen_at, stopped_at, claimed, leases_lost, "
    "writes_refused, driving, actors_epoch"
)


class SqlWorkers(SqlBase):
    """What each worker last reported, and the switches every process reads."""

    def report_worker(self, report: WorkerRecord) -> None:
        with self._transaction() as cursor:
            cursor.run(
                f"INSERT INTO saga_workers ({_WORKER_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (worker_id) DO UPDATE SET lease_s = excluded.lease_s, "
                "seen_at = excluded.seen_at, stopped_at = excluded.stopped_at, "
                "claimed = excluded.claimed, leases_lost = excluded.leases_lost, "
                "writes_refused = excluded.writes_refused, driving = excluded.driving, "
                "actors_epoch = excluded.actors_epoch",
                (
                    report.worker_id,
                    report.lease_s,
                    report.started_at,
                    report.seen_at,
                    report.stopped_at,
                    *astuple(report.counts),
                    report.actors_epoch,
                ),
            )

    def workers(self) -> list[WorkerRecord]:
        rows = self._read(f"SELECT {_WORKER_COLUMNS} FROM saga_workers ORDER BY worker_id")
        return [
            WorkerRecord(
                str(worker_id),
                float(lease_s),
                float(started),
                float(seen),
                None if stopped is None else float(stopped),
                WorkerCounts(*(int(count) for count in counts[:4])),
                int(counts[4]),
            )
            for worker_id, lease_s, started, seen, stopped, *counts in rows
        ]

    def set_paused(self, paused: bool, now: float) -> None:
        with self._transaction() as cursor:
            cursor.run(
                "INSERT INTO saga_controls (name, value, set_at) VALUES ('paused', ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET value = excluded.value, set_at = excluded.set_at",
                ("true" if paused else "false", now),
            )

    def cluster_paused(self) -> bool:
        rows = self._read("SELECT value FROM saga_controls WHERE name = 'paused'")
        return bool(rows) and rows[0][0] == "true"

    def request_actor_restart(self, now: float) -> int:
        with self._transaction() as cursor:
            rows = cursor.run(
                "INSERT INTO saga_controls (name, value, set_at) VALUES ('actors_epoch', '1', ?) "
                "ON CONFLICT (name) DO UPDATE SET value = "
                "CAST(CAST(saga_controls.value AS INTEGER) + 1 AS TEXT), set_at = excluded.set_at "
                "RETURNING value",
                (now,),
            )
        return int(rows[0][0])

    def actors_epoch(self) -> int:
        rows = self._read("SELECT value FROM saga_controls WHERE name = 'actors_epoch'")
        return int(rows[0][0]) if rows else 0
