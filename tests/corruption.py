"""Corrupting a store on purpose, as a disk error or a bad manual edit would: raw SQL over
a connection of its own, behind the store's back (for the quarantine tests)."""

from __future__ import annotations

import sqlite3
from typing import Any


def corrupt(url: str, sql: str, *params: Any) -> None:
    """Run one write statement (``?`` placeholders) on the database at store ``url``."""
    if url.startswith("sqlite://"):
        connection = sqlite3.connect(url.removeprefix("sqlite://"), timeout=10.0)
        try:
            with connection:
                connection.execute(sql, params)
        finally:
            connection.close()
        return
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.replace("?", "%s"), params)
