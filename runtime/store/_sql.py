"""The SQL implementation of :class:`Store`, shared by the SQLite and PostgreSQL backends.

Statements are written once, with ``?`` placeholders and portable SQL (``RETURNING``,
``ON CONFLICT``); a backend supplies the connection, the write transaction and the
translation of driver errors. The statements live by table family: events and
snapshots (``_sql_events``), operational tables (``_sql_operations``), saga
persistence (``_sql_sagas``), alerts (``_sql_alerts``), the repair of a broken event
(``_sql_repair``), the leases of workers (``_sql_leases``) and their registry
(``_sql_workers``); the backend hooks in ``_sql_base``.
"""

from __future__ import annotations

from sagacrew.runtime.store._sql_alerts import SqlAlerts
from sagacrew.runtime.store._sql_events import SqlEvents
from sagacrew.runtime.store._sql_leases import SqlLeases
from sagacrew.runtime.store._sql_operations import SqlOperations
from sagacrew.runtime.store._sql_repair import SqlRepair
from sagacrew.runtime.store._sql_sagas import SqlSagas
from sagacrew.runtime.store._sql_workers import SqlWorkers


class SqlStore(SqlEvents, SqlOperations, SqlSagas, SqlAlerts, SqlRepair, SqlLeases, SqlWorkers):
    """:class:`Store` over a SQL connection; ``clock`` stamps ``recorded_at`` and friends."""
