"""Event store append and read throughput, per backend, against raw sqlite3 inserts.

    python bench/bench_store.py [--events N] [--batch N] [--postgres-url URL]

- store append: ``Store.append`` of ``--batch`` events per call (optimistic version check,
  JSON encoding, one transaction per call), on SQLite with synchronous FULL and NORMAL,
  and on PostgreSQL when ``--postgres-url`` is given.
- raw sqlite3: the same rows inserted with ``executemany`` and one commit per batch, at
  the same synchronous level (no version check, no JSON validation).
- read: ``read_stream`` of every stream written.
- group commit: ``--writers`` concurrent asyncio writers, each appending ONE event per
  call to its own stream through the store's group committer (``event_appender``, what
  aggregate actors use), against raw sqlite3 single-row commits at the same durability.

Ratio = store events/s / raw sqlite3 events/s at the same durability.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import tempfile
import time
from pathlib import Path

from sagacrew.runtime.store import AppendRequest, NewEvent, Store, event_appender, open_store

STREAMS = 50


def append_all(store: Store, events: int, batch: int) -> float:
    versions = dict.fromkeys(range(STREAMS), 0)
    started = time.perf_counter()
    for call in range(events // batch):
        stream = call % STREAMS
        new = [
            NewEvent("bench.item.added", {"n": call, "i": i}, f"c-{call}", f"c-{call}")
            for i in range(batch)
        ]
        versions[stream] = store.append(f"bench:{stream}", versions[stream], new)
    return events / (time.perf_counter() - started)


def read_all_streams(store: Store) -> float:
    started = time.perf_counter()
    total = sum(len(store.read_stream(f"bench:{stream}")) for stream in range(STREAMS))
    return total / (time.perf_counter() - started)


def raw_sqlite(path: Path, events: int, batch: int, synchronous: str) -> float:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(f"PRAGMA synchronous = {synchronous}")
    conn.execute(
        "CREATE TABLE events (position INTEGER PRIMARY KEY, stream_id TEXT, version INTEGER, "
        "event_type TEXT, payload TEXT, UNIQUE (stream_id, version))"
    )
    versions = dict.fromkeys(range(STREAMS), 0)
    started = time.perf_counter()
    for call in range(events // batch):
        stream = call % STREAMS
        rows = [
            (f"bench:{stream}", versions[stream] + i + 1, "bench.item.added", json.dumps({"n": i}))
            for i in range(batch)
        ]
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO events (stream_id, version, event_type, payload) VALUES (?, ?, ?, ?)",
            rows,
        )
        conn.execute("COMMIT")
        versions[stream] += batch
    rate = events / (time.perf_counter() - started)
    conn.close()
    return rate


def group_commit_appends(store: Store, events: int, writers: int) -> float:
    """``writers`` concurrent writers, one event per append, through the group committer."""
    appender = event_appender(store)

    async def writer(stream: int, count: int) -> None:
        version = 0
        for n in range(count):
            event = NewEvent("bench.item.added", {"n": n}, f"w-{stream}", f"w-{stream}")
            version = await appender.apply(AppendRequest(f"group:{stream}", version, [event]))

    async def run() -> None:
        await asyncio.gather(*(writer(w, events // writers) for w in range(writers)))

    started = time.perf_counter()
    asyncio.run(run())
    return (events // writers) * writers / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=5)
    parser.add_argument("--postgres-url", default=None)
    parser.add_argument("--writers", type=int, default=50)
    args = parser.parse_args()
    print(f"{args.events} events in appends of {args.batch}, over {STREAMS} streams")
    with tempfile.TemporaryDirectory(prefix="bench-store-") as tmp:
        for level in ("FULL", "NORMAL"):
            store = open_store(f"sqlite://{Path(tmp) / f'{level}.db'}?synchronous={level}")
            rate = append_all(store, args.events, args.batch)
            read = read_all_streams(store)
            store.close()
            raw = raw_sqlite(Path(tmp) / f"raw-{level}.db", args.events, args.batch, level)
            print(
                f"sqlite {level:6}: append {rate:9.0f} ev/s | raw sqlite3 {raw:9.0f} ev/s | "
                f"ratio {rate / raw:.2f} | read_stream {read:9.0f} ev/s"
            )
        print(f"{args.events} single-event appends by {args.writers} concurrent writers")
        for level in ("FULL", "NORMAL"):
            store = open_store(f"sqlite://{Path(tmp) / f'group-{level}.db'}?synchronous={level}")
            rate = group_commit_appends(store, args.events, args.writers)
            store.close()
            raw = raw_sqlite(Path(tmp) / f"raw1-{level}.db", args.events, 1, level)
            print(
                f"sqlite {level:6}: group commit {rate:9.0f} ev/s | raw sqlite3 single-row "
                f"commits {raw:9.0f} ev/s | ratio {rate / raw:.2f}"
            )
    if args.postgres_url:
        store = open_store(args.postgres_url)
        rate = append_all(store, args.events, args.batch)
        read = read_all_streams(store)
        store.close()
        print(f"postgresql  : append {rate:9.0f} ev/s | read_stream {read:9.0f} ev/s")


if __name__ == "__main__":
    main()
