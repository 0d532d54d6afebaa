"""Saga throughput under contention against the same workload without it, in one run.

    python bench/bench_contention.py [--sagas N] [--concurrency N] [--shared N] [--repeat N]

Both sides run the generated bank_transfer system (debit an account by a commutative
update, credit a remote bank settled by a completion event, record the transfer) on a
fresh SQLite file, ``--concurrency`` sagas at a time, with no faults injected:

- contention: every saga debits one of ``--shared`` accounts (default 3);
- baseline: every saga debits an account of its own (no two sagas share an aggregate).

Each figure is the best of ``--repeat`` runs; ratio = contention sagas/s / baseline
sagas/s. Below 1.0 is the price of sharing (one aggregate actor serialises its
commands; its event stream's version is the unit of optimistic concurrency).
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

from sagacrew.agents.generated import open_generated
from sagacrew.agents.validator.verification.contention import ContentionPlan, run_contention

ROOT = Path(__file__).resolve().parents[1]


def measure(sagas: int, concurrency: int, shared: int) -> float:
    """Sagas per second of one run over ``shared`` accounts."""
    system = open_generated(ROOT / "generated" / "bank_transfer")
    plan = ContentionPlan(
        sagas_per_type=sagas,
        concurrency=concurrency,
        shared_ids=shared,
        lost_reply_rate=0.0,
        late_completion_rate=0.0,
        business_failure_rate=0.0,
        step_failure_rate=0.0,
    )
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        run = run_contention(system, f"sqlite://{Path(folder) / 'bench.db'}", plan)
        elapsed = time.perf_counter() - started
    assert run.by_state == {"completed": sagas}, run.by_state
    return sagas / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sagas", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--shared", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    contention = baseline = 0.0
    for _ in range(args.repeat):
        baseline = max(baseline, measure(args.sagas, args.concurrency, args.sagas * 1000))
        contention = max(contention, measure(args.sagas, args.concurrency, args.shared))
    print(
        f"bank_transfer, {args.sagas} sagas, {args.concurrency} at once, SQLite: "
        f"baseline (own accounts) {baseline:,.0f} sagas/s, contention ({args.shared} shared "
        f"accounts) {contention:,.0f} sagas/s, ratio {contention / baseline:.2f}"
    )


if __name__ == "__main__":
    main()
