"""The saga engine against its strongest baselines, side by side in one run, per store.

    python bench/bench_engines.py [--sagas N] [--concurrency N] [--repeat N]
                                  [--stores sqlite-full,sqlite-normal,postgres] [--postgres URL]

Every system runs ``--sagas`` 5-step sagas, ``--concurrency`` at a time, each step one call
to the same no-op in-memory service, at equal durability (a transition is committed before
the saga acts on it):

- sagacrew: ``SagaOrchestrator`` over ``open_store(url)``;
- hand-written: an asyncio group-commit loop, one row per transition, each saga awaiting its
  own commit, concurrent sagas' rows sharing one commit (``_group_commit.py``): stdlib
  sqlite3 on SQLite, psycopg's async connection on PostgreSQL;
- DBOS Transact durable workflows of 5 steps (``_dbos_bench.py``), when installed
  (``pip install 'sagacrew[bench]'``); skipped with one line otherwise;
- store alone: the rows sagacrew writes for such a saga, through its group committer and
  store, with no engine (``run_store_path``): the most any engine over that store and
  schema can reach, so the gap between it and sagacrew is the engine's own cost;
- least engine: a plain forward step's work done with sagacrew's own parts over its store,
  and nothing else (``_least_engine.py``): the most an engine with sagacrew's features can
  reach in this design, so the gap between it and sagacrew is what the run's handling of
  everything but a plain success costs.

Stores: SQLite WAL with ``synchronous=FULL``, with ``synchronous=NORMAL``, and PostgreSQL
with ``synchronous_commit`` on: at ``--postgres URL``, else a throwaway durable cluster
when PostgreSQL's server binaries are installed, else skipped with one line.

Prints per store each system's sagas/s (median of ``--repeat`` runs, the systems taking
turns), the ratios sagacrew / hand-written and sagacrew / DBOS, and the step cycle p50/p95/
p99 in ms over all runs: from the body of step i starting to the body of step i+1 starting
(stamped inside each step's body, the same way for every system); then all of it as a
markdown table for the README. Each run is a process of its own, forked from this one
(``_isolated.py``): no system's leftovers tax the runs after it.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import _group_commit as handwritten
from _isolated import Runner, run_isolated
from _least_engine import run_least_engine
from _postgres import INSTALL_HINT, DurableServer, find_bin_dir, fresh_schema
from _saga_bench import STEPS, Run, percentile, run_sagacrew, run_store_path

from sagacrew.runtime import settle_startup_heap

SAGACREW, HANDWRITTEN, DBOS = "sagacrew", "hand-written", "DBOS"
STORE_PATH = "store alone"
"""sagacrew's rows through its group committer and store, with no engine (the most an
engine over that store and schema can reach)."""
LEAST = "least engine"
"""A plain forward step's work with sagacrew's parts over its store, and nothing else (the
most an engine with sagacrew's features can reach in this design)."""
STORES = ("sqlite-full", "sqlite-normal", "postgres")
# Goals of issue 21: sagacrew / hand-written, sagacrew / DBOS, step cycle p99 (ms).
GOAL_VS_HANDWRITTEN = 0.5
GOAL_VS_DBOS = {"sqlite": 10.0, "postgres": 5.0}
GOAL_P99_MS = {"sqlite": 5.0, "postgres": 15.0}


@dataclass
class Results:
    """One store's measured runs, per system."""

    label: str
    backend: str
    runs: dict[str, list[Run]] = field(default_factory=dict)

    def rate(self, system: str) -> float | None:
        runs = self.runs.get(system)
        return statistics.median(run.rate for run in runs) if runs else None

    def cycles(self, system: str) -> tuple[float, float, float]:
        ordered = sorted(cycle for run in self.runs[system] for cycle in run.cycles_ms)
        return percentile(ordered, 50), percentile(ordered, 95), percentile(ordered, 99)


@contextmanager
def sqlite_runners(level: str, dbos: bool) -> Iterator[dict[str, Runner]]:
    """Each system's runner, on its own fresh SQLite file in WAL mode at ``level``."""
    with tempfile.TemporaryDirectory(prefix="bench-engines-") as tmp:
        root = Path(tmp)
        runners: dict[str, Runner] = {
            SAGACREW: lambda n, c: run_sagacrew(
                f"sqlite://{root / 'sagacrew.db'}?synchronous={level}", n, c
            ),
            HANDWRITTEN: lambda n, c: handwritten.run_sqlite(root / "hand.db", level, n, c),
            STORE_PATH: lambda n, c: run_store_path(
                f"sqlite://{root / 'store.db'}?synchronous={level}", n, c
            ),
            LEAST: lambda n, c: run_least_engine(
                f"sqlite://{root / 'least.db'}?synchronous={level}", n, c
            ),
        }
        if dbos:
            import _dbos_bench

            runners[DBOS] = lambda n, c: _dbos_bench.run_sqlite(root / "dbos.db", level, n, c)
        yield runners


@contextmanager
def postgres_runners(url: str, dbos: bool) -> Iterator[dict[str, Runner]]:
    """Each system's runner, in its own fresh schema on the server at ``url``."""
    with ExitStack() as stack:
        ours, _ = stack.enter_context(fresh_schema(url))
        hand, _ = stack.enter_context(fresh_schema(url))
        alone, _ = stack.enter_context(fresh_schema(url))
        least, _ = stack.enter_context(fresh_schema(url))
        runners: dict[str, Runner] = {
            SAGACREW: lambda n, c: run_sagacrew(ours, n, c),
            HANDWRITTEN: lambda n, c: handwritten.run_postgres(hand, n, c),
            STORE_PATH: lambda n, c: run_store_path(alone, n, c),
            LEAST: lambda n, c: run_least_engine(least, n, c),
        }
        if dbos:
            import _dbos_bench

            _, schema = stack.enter_context(fresh_schema(url))
            runners[DBOS] = lambda n, c: _dbos_bench.run_postgres(url, schema, n, c)
        yield runners


def measure(
    results: Results,
    runners: Callable[[], AbstractContextManager[dict[str, Runner]]],
    sagas: int,
    concurrency: int,
    repeat: int,
) -> None:
    """``repeat`` rounds; in each, every system runs once on a fresh database."""
    for _ in range(repeat):
        with runners() as round_runners:
            for system, runner in round_runners.items():
                run = run_isolated(system, runner, sagas, concurrency)
                results.runs.setdefault(system, []).append(run)


def ratio(results: Results, other: str, ours: str = SAGACREW) -> float | None:
    mine, theirs = results.rate(ours), results.rate(other)
    return mine / theirs if mine and theirs else None


def verdict(value: float, goal: float, *, at_most: bool = False) -> str:
    met = value <= goal if at_most else value >= goal
    return f"(goal {'≤' if at_most else '≥'} {goal:g}: {'met' if met else 'MISSED'})"


def report(results: Results) -> None:
    print(f"\n{results.label}")
    for system in results.runs:
        rate = results.rate(system) or 0.0
        p50, p95, p99 = results.cycles(system)
        print(
            f"  {system:<13} {rate:9,.0f} sagas/s   "
            f"step cycle p50 {p50:6.2f}  p95 {p95:6.2f}  p99 {p99:6.2f} ms"
        )
    vs_hand, vs_dbos = ratio(results, HANDWRITTEN), ratio(results, DBOS)
    if vs_hand is not None:
        goal_line = verdict(vs_hand, GOAL_VS_HANDWRITTEN)
        print(f"  ratio sagacrew / hand-written: {vs_hand:.2f} {goal_line}")
    if vs_dbos is not None:
        goal = GOAL_VS_DBOS[results.backend]
        print(f"  ratio sagacrew / DBOS: {vs_dbos:.1f} {verdict(vs_dbos, goal)}")
    alone = ratio(results, HANDWRITTEN, ours=STORE_PATH)
    if alone is not None:
        print(
            f"  ratio store alone / hand-written: {alone:.2f} (the most an engine over it reaches)"
        )
    engine = ratio(results, STORE_PATH)
    if engine is not None:
        print(f"  ratio sagacrew / store alone: {engine:.2f} (what the engine's own work leaves)")
    ceiling = ratio(results, HANDWRITTEN, ours=LEAST)
    if ceiling is not None:
        print(
            f"  ratio least engine / hand-written: {ceiling:.2f} "
            "(the most an engine with sagacrew's features reaches)"
        )
    handling = ratio(results, LEAST)
    if handling is not None:
        print(
            f"  ratio sagacrew / least engine: {handling:.2f} "
            "(what handling more than a plain success leaves)"
        )
    p99 = results.cycles(SAGACREW)[2]
    goal_ms = GOAL_P99_MS[results.backend]
    print(f"  sagacrew step cycle p99: {p99:.2f} ms {verdict(p99, goal_ms, at_most=True)}")


def markdown(all_results: list[Results], dbos_version: str | None) -> str:
    dbos_header = f"DBOS Transact {dbos_version}" if dbos_version else "DBOS Transact"
    lines = [
        f"| store | sagacrew | hand-written group commit | {dbos_header} "
        "| sagacrew / hand-written | sagacrew / DBOS | store alone / hand-written "
        "| sagacrew / store alone | least engine / hand-written | sagacrew / least engine |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for results in all_results:
        cells = [results.label]
        for system in (SAGACREW, HANDWRITTEN, DBOS):
            rate = results.rate(system)
            if rate is None:
                cells.append("not run")
                continue
            p50, p95, p99 = results.cycles(system)
            cells.append(f"{rate:,.0f} sagas/s, cycle p50/p95/p99 {p50:.1f}/{p95:.1f}/{p99:.1f} ms")
        for value in (
            ratio(results, HANDWRITTEN),
            ratio(results, DBOS),
            ratio(results, HANDWRITTEN, ours=STORE_PATH),
            ratio(results, STORE_PATH),
            ratio(results, HANDWRITTEN, ours=LEAST),
            ratio(results, LEAST),
        ):
            cells.append("" if value is None else f"{value:.2f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--sagas", type=int, default=500, help="sagas per run (500)")
    parser.add_argument("--concurrency", type=int, default=100, help="sagas in flight (100)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per system (3)")
    parser.add_argument(
        "--stores",
        default=",".join(STORES),
        help=f"comma-separated, among {', '.join(STORES)} (all)",
    )
    parser.add_argument("--postgres", metavar="URL", help="a PostgreSQL server to measure on")
    args = parser.parse_args()
    args.stores = [name.strip() for name in args.stores.split(",") if name.strip()]
    unknown = sorted(set(args.stores) - set(STORES))
    if unknown:
        parser.error(f"unknown stores {unknown}: choose among {', '.join(STORES)}")
    return args


def main() -> None:
    args = parse_args()
    dbos_version = None
    if importlib.util.find_spec("dbos") is None:
        print("DBOS Transact is not installed (pip install 'sagacrew[bench]'): skipped")
    else:
        from importlib.metadata import version

        dbos_version = version("dbos")
    print(
        f"{STEPS}-step sagas, {args.concurrency} concurrent, no-op service; "
        f"median of {args.repeat} x {args.sagas} sagas per system"
    )
    sizes = (args.sagas, args.concurrency, args.repeat)
    dbos = dbos_version is not None
    if dbos:
        import _dbos_bench  # noqa: F401  (imported before the heap is settled, as the rest)
    # As a `serve` or `worker` process does once started; every system runs in this process.
    settle_startup_heap()
    all_results: list[Results] = []
    with ExitStack() as stack:
        for store in args.stores:
            if store == "postgres":
                url = args.postgres
                if url is None and find_bin_dir() is None:
                    print(f"PostgreSQL skipped: no --postgres URL and no server ({INSTALL_HINT})")
                    continue
                if url is None:
                    server = DurableServer.start()
                    stack.callback(server.stop)
                    url = server.url
                results = Results("PostgreSQL, synchronous_commit on", "postgres")
                measure(results, partial(postgres_runners, url, dbos), *sizes)
            else:
                level = store.removeprefix("sqlite-").upper()
                results = Results(f"SQLite WAL, synchronous={level}", "sqlite")
                measure(results, partial(sqlite_runners, level, dbos), *sizes)
            report(results)
            all_results.append(results)
    if all_results:
        print("\n" + markdown(all_results, dbos_version))


if __name__ == "__main__":
    main()
