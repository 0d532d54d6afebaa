"""Shared fixtures: store URLs for both backends (a throwaway PostgreSQL server per session),
and the example spec and blueprint the LLM layer's tests refine."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from postgres_server import INSTALL_HINT
from postgres_server import PostgresServer
from postgres_server import find_bin_dir

if TYPE_CHECKING:
    from saga_fakes import ObservedStore

    from sagacrew.agents.blueprint import Blueprint
    from sagacrew.agents.spec import DomainSpec


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL cluster for the whole session; skipped only when no binaries exist."""
    if find_bin_dir() is None:
        pytest.skip(f"PostgreSQL binaries not found: {INSTALL_HINT}")
    server = PostgresServer.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A URL whose search_path is a fresh, empty schema (dropped after the test)."""
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server.url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{postgres_server.url}&options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(postgres_server.url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A URL for a fresh SQLite file in the test's temporary directory."""
    return f"sqlite://{tmp_path / 'store.db'}"


@pytest.fixture(scope="module")
def spec() -> DomainSpec:
    """The order_fulfilment example spec (``llm_samples.EXAMPLE``), as the LLM tests refine it."""
    from llm_samples import EXAMPLE

    from sagacrew.agents.spec import load_spec

    return load_spec(EXAMPLE)


@pytest.fixture(scope="module")
def blueprint(spec: DomainSpec) -> Blueprint:
    """The deterministic design of ``spec`` (no LLM)."""
    from llm_samples import EXAMPLE

    from sagacrew.crew.pipeline import design

    return design(spec, EXAMPLE.name)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest) -> str:
    """Each backend in turn: a fresh SQLite file, then a fresh PostgreSQL schema."""
    name = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    url: str = request.getfixturevalue(name)
    return url


@pytest.fixture
def store(store_url: str) -> Iterator[ObservedStore]:
    """The default ``store``: an observed saga store (``saga_fakes``) on each backend in
    turn. A module that needs another store defines its own ``store`` fixture."""
    from saga_fakes import observed_store

    with closing(observed_store(store_url)) as observed:
        yield observed
