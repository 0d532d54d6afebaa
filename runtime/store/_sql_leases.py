"""The SQL store's leases (``saga_leases``; see :mod:`._lease_recorder`)."""

from __future__ import annotations

from collections.abc import Sequence

from sagacrew.runtime.store._sql_base import SqlBase


class SqlLeases(SqlBase):
    """Claims, heartbeats and releases of saga leases."""

    def claim_sagas(
        self, owner: str, *, states: Sequence[str], limit: int, lease_s: float, now: float
    ) -> dict[str, int]:
        if not states or limit <= 0:
            return {}
        marks = ", ".join("?" for _ in states)
        claimed: dict[str, int] = {}
        with self._transaction() as cursor:
            free = cursor.run(
                "SELECT s.saga_id FROM saga_executions s "
                "LEFT JOIN saga_leases l ON l.saga_id = s.saga_id "
                f"WHERE s.state IN ({marks}) AND (l.saga_id IS NULL OR l.expires_at < ?) "
                f"ORDER BY s.started_at, s.saga_id LIMIT ?{self._skip_locked}",
                (*states, now, limit),
            )
            for (saga_id,) in free:
                rows = cursor.run(
                    "INSERT INTO saga_leases (saga_id, owner, generation, expires_at) "
                    "VALUES (?, ?, 1, ?) ON CONFLICT (saga_id) DO UPDATE SET "
                    "owner = excluded.owner, generation = saga_leases.generation + 1, "
                    "expires_at = excluded.expires_at WHERE saga_leases.expires_at < ? "
                    "RETURNING generation",
                    (saga_id, owner, now + lease_s, now),
                )
                if rows:
                    claimed[str(saga_id)] = int(rows[0][0])
        return claimed

    def renew_leases(self, owner: str, *, until: float) -> dict[str, int]:
        with self._transaction() as cursor:
            rows = cursor.run(
                "UPDATE saga_leases SET expires_at = ? WHERE owner = ? "
                "RETURNING saga_id, generation",
                (until, owner),
            )
        return {str(saga_id): int(generation) for saga_id, generation in rows}

    def release_lease(self, owner: str, saga_id: str) -> None:
        # Expired, not deleted: the generation only ever grows, so an old fence never
        # matches again.
        with self._transaction() as cursor:
            cursor.run(
                "UPDATE saga_leases SET expires_at = 0 WHERE saga_id = ? AND owner = ?",
                (saga_id, owner),
            )
