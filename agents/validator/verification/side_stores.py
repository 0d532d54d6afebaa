"""Stores beside the one ``verify`` measures: the contention workload and the fault-plan
scenarios run on their own, so their sagas never count in the main run's figures."""

from __future__ import annotations

from pathlib import Path


def side_store_url(store_url: str, name: str) -> str:
    """A fresh store named ``name`` beside ``store_url``: the SQLite file
    ``<stem>-<name>.db`` (removed first, with its WAL files), or the schema
    ``sagacrew_<name>`` of the same PostgreSQL database (dropped and re-created)."""
    if store_url.startswith("sqlite://"):
        path, _, query = store_url.removeprefix("sqlite://").partition("?")
        target = f"{path.removesuffix('.db')}-{name}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(target + suffix).unlink(missing_ok=True)
        return f"sqlite://{target}" + (f"?{query}" if query else "")
    import psycopg

    schema = f"sagacrew_{name}"
    with psycopg.connect(store_url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        conn.execute(f"CREATE SCHEMA {schema}")
    joiner = "&" if "?" in store_url else "?"
    return f"{store_url}{joiner}options=-csearch_path%3D{schema}"
