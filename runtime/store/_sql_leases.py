"""The SQL store's leases (``saga_leases``; see :mod:`._lease_recorder`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Unpack

from sagacrew.runtime.store import _codec as codec
from sagacrew.runtime.store._lease_recorder import Claim
from sagacrew.runtime.store._records import InboxEvent
from sagacrew.runtime.store._sql_base import SqlBase


class SqlLeases(SqlBase):
    """Claims, heartbeats and releases of saga leases."""

    def claim_sagas(self, owner: str, **claim: Unpack[Claim]) -> dict[str, int]:
        states, limit, now = claim["states"], claim["limit"], claim["now"]
        lease_s, versions = claim["lease_s"], claim.get("versions")
        if not states or limit <= 0:
            return {}
        marks = ", ".join("?" for _ in states)
        active = (
            f"SELECT 1 FROM saga_executions s WHERE s.saga_id = l.saga_id AND s.state IN ({marks})"
        )
        known: tuple[str, ...] = ()
        if versions is not None:  # leave sagas on other versions to workers that have them
            known = tuple(versions)
            active += f" AND s.definition_version IN ({', '.join('?' for _ in known)})"
        with self._transaction() as cursor:
            # A saga in flight with no lease yet gets an expired one (generation 0), so
            # that every claim locks lease rows only, in saga id order (as heartbeats and
            # fenced writes do): no deadlock with them.
            cursor.run(
                "INSERT INTO saga_leases (saga_id, owner, generation, expires_at) "
                "SELECT s.saga_id, '', 0, 0 FROM saga_executions s "
                f"WHERE s.state IN ({marks}) AND NOT EXISTS "
                "(SELECT 1 FROM saga_leases l WHERE l.saga_id = s.saga_id) "
                "ORDER BY s.saga_id ON CONFLICT (saga_id) DO NOTHING",
                tuple(states),
            )
        with self._transaction() as cursor:
            free = cursor.run(
                f"SELECT l.saga_id FROM saga_leases l WHERE l.expires_at < ? AND EXISTS ({active}) "
                f"ORDER BY l.saga_id LIMIT ?{self._skip_locked}",
                (now, *states, *known, limit),
            )
            if not free:
                return {}
            ids = [str(saga_id) for (saga_id,) in free]
            rows = cursor.run(
                "UPDATE saga_leases SET owner = ?, generation = generation + 1, expires_at = ? "
                f"WHERE saga_id IN ({', '.join('?' for _ in ids)}) AND expires_at < ? "
                "RETURNING saga_id, generation",
                (owner, now + lease_s, *ids, now),
            )
        return {str(saga_id): int(generation) for saga_id, generation in rows}

    def renew_leases(self, owner: str, *, until: float) -> dict[str, int]:
        with self._transaction() as cursor:
            rows = cursor.run(
                "UPDATE saga_leases SET expires_at = ? WHERE saga_id IN (SELECT saga_id FROM "
                f"saga_leases WHERE owner = ? ORDER BY saga_id{self._lock_rows}) "
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

    def post_to_inbox(
        self, correlation_id: str, event_name: str, payload: Mapping[str, Any], now: float
    ) -> None:
        with self._transaction() as cursor:
            cursor.run(
                "INSERT INTO saga_inbox (correlation_id, event_name, payload, received_at) "
                "VALUES (?, ?, ?, ?)",
                (correlation_id, event_name, codec.dumps(payload, what="inbox payload"), now),
            )

    def inbox_of(self, owner: str) -> list[InboxEvent]:
        rows = self._read(
            "SELECT DISTINCT i.id, i.correlation_id, i.event_name, i.payload FROM saga_inbox i "
            "JOIN saga_executions s ON s.correlation_id = i.correlation_id "
            "JOIN saga_leases l ON l.saga_id = s.saga_id WHERE l.owner = ? ORDER BY i.id",
            (owner,),
        )
        return [
            InboxEvent(
                int(id_),
                str(correlation),
                str(name),
                codec.loads_object(
                    payload,
                    where=f"saga_inbox row {id_}: payload",
                    repair=f"delete saga_inbox row {id_} and send the event again",
                ),
            )
            for id_, correlation, name, payload in rows
        ]

    def remove_from_inbox(self, ids: Sequence[int]) -> None:
        if not ids:
            return
        with self._transaction() as cursor:
            cursor.run(
                f"DELETE FROM saga_inbox WHERE id IN ({', '.join('?' for _ in ids)})", list(ids)
            )
