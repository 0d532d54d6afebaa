"""The PostgreSQL store's schema: made, or brought up to date, when a store opens, and
only then.

``schema_postgres.sql`` can run again and again (``IF NOT EXISTS``), but its ``CREATE
INDEX`` statements take a SHARE lock on their tables even when the index is there. Run at
every open, a store opening while another holds a write transaction waits for it, and
every writer after it waits behind the opener: a worker starting in a busy cluster stalls
the cluster, and one frozen mid-transaction keeps every new worker from starting. So the
script's fingerprint is recorded in ``sagacrew_schema`` when it has run, and a store
opening on a schema that has it runs nothing (reading the fingerprint takes no lock a
writer waits for). A new version of the script runs once, under an advisory lock.
"""

from __future__ import annotations

import hashlib
from typing import Any

import psycopg

from sagacrew.runtime.store._sqlite import schema_sql

_LOCK_ID = 0x5A6A_C5E0  # pg_advisory_xact_lock key for schema creation
_DDL = schema_sql("schema_postgres.sql")
FINGERPRINT = hashlib.sha256(_DDL.encode()).hexdigest()[:16]
"""Of ``schema_postgres.sql``: the schema a store of this version needs."""


def ensure_schema(conn: psycopg.Connection[Any]) -> bool:
    """Make or update the schema on ``conn`` (autocommit) unless it is current; True
    when the script ran."""
    if _recorded(conn) == FINGERPRINT:
        return False
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_ID,))
        if _recorded(conn) == FINGERPRINT:  # another store made it meanwhile
            return False
        conn.execute(_DDL.encode())
        conn.execute("CREATE TABLE IF NOT EXISTS sagacrew_schema (fingerprint TEXT NOT NULL)")
        conn.execute("DELETE FROM sagacrew_schema")
        conn.execute("INSERT INTO sagacrew_schema (fingerprint) VALUES (%s)", (FINGERPRINT,))
    return True


def _recorded(conn: psycopg.Connection[Any]) -> str | None:
    """The fingerprint of the schema on ``conn`` (``None``: none recorded)."""
    found = conn.execute("SELECT to_regclass('sagacrew_schema')").fetchone()
    if found is None or found[0] is None:
        return None
    row = conn.execute("SELECT fingerprint FROM sagacrew_schema").fetchone()
    return None if row is None else str(row[0])
