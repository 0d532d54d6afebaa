"""SQLite-specific store behaviour: URLs, durability settings, in-memory databases."""

from __future__ import annotations

from pathlib import Path

import pytest

from sagacrew.runtime.store import NewEvent
from sagacrew.runtime.store import StoreError
from sagacrew.runtime.store import open_store


def test_sqlite_file_store_uses_wal_and_full_synchronous_by_default(tmp_path: Path) -> None:
    store = open_store(f"sqlite://{tmp_path / 'a.db'}")
    try:
        assert store.query("PRAGMA journal_mode") == [("wal",)]
        assert store.query("PRAGMA synchronous") == [(2,)]
    finally:
        store.close()


def test_sqlite_url_option_sets_synchronous_normal(tmp_path: Path) -> None:
    store = open_store(f"sqlite://{tmp_path / 'a.db'}?synchronous=NORMAL")
    try:
        assert store.query("PRAGMA synchronous") == [(1,)]
    finally:
        store.close()


def test_in_memory_store_keeps_events_on_its_single_connection() -> None:
    store = open_store("sqlite://:memory:")
    try:
        store.append("s", 0, [NewEvent("a.b.created", {}, "c", "c")])
        assert store.stream_version("s") == 1
    finally:
        store.close()


def test_store_file_survives_reopening(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path / 'a.db'}"
    with open_store(url) as store:
        store.append("s", 0, [NewEvent("a.b.created", {"k": 1}, "c", "c")])
    with open_store(url) as store:
        assert [e.payload for e in store.read_stream("s")] == [{"k": 1}]


def test_relative_sqlite_url_names_a_file_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with open_store("sqlite://rel.db"):
        pass
    assert (tmp_path / "rel.db").exists()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://localhost/db", "unsupported store URL"),
        ("sqlite://", "names no file"),
        ("sqlite://:memory:?synchronous=SOMETIMES", "unknown SQLite synchronous level"),
        ("sqlite://:memory:?journal=off", "unknown SQLite URL options"),
        ("sqlite://:memory:?busy_timeout_ms=soon", "not an integer"),
    ],
)
def test_bad_store_urls_raise_store_error_with_a_fix(url: str, message: str) -> None:
    with pytest.raises(StoreError, match=message) as raised:
        open_store(url)
    assert raised.value.fix


def test_unwritable_sqlite_path_raises_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="SQLite error"):
        open_store(f"sqlite://{tmp_path / 'missing-dir' / 'a.db'}")
