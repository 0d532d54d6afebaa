"""``sagacrew run``: the generated system's sagas under its fault plan, reproducibly.

Saga ids come from the workload's seed (``run-s<seed>-<saga>-<n>``), like the injected
faults, which are drawn from the seed and the saga id: two runs of the same system on
fresh stores run the same sagas with the same faults, and end the same way. On a store
that already holds a run with the same seed, those sagas are not run again: their
outcome is reported as it is (a start with a known id starts nothing).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from sagacrew.crew.cli_base import EXIT_FAILED, _user_errors, err, out


def run_prefix(seed: int) -> str:
    """The saga-id prefix of ``sagacrew run`` for a workload ``seed``: ``run-s7``."""
    return f"run-s{seed}"


def run(
    system_dir: Annotated[Path, typer.Argument(help="A folder written by `generate`.")],
    sagas: Annotated[
        int | None, typer.Option("--sagas", min=1, help="Sagas of each type (default: spec).")
    ] = None,
    store: Annotated[
        str | None,
        typer.Option(help="Store URL (default: sqlite under DIR/.sagacrew/runtime.db)."),
    ] = None,
) -> None:
    """Execute the generated system's sagas on the runtime, with the generated faults.

    Saga ids and faults come from the spec's workload seed, so two runs on fresh stores
    end the same way."""
    with _user_errors():
        from sagacrew.agents.generated import open_generated
        from sagacrew.agents.validator.verification.crashes import crashes
        from sagacrew.agents.validator.verification.verify import run_workload, sqlite_url

        system = open_generated(system_dir)
        system.state_dir.mkdir(parents=True, exist_ok=True)
        url = store or sqlite_url(system.state_dir / "runtime.db")
        prefix = run_prefix(system.workload.seed)
        earlier = _ids_with_prefix(url, prefix)
        started = time.time()
        report = run_workload(system, url, sagas_per_type=sagas, id_prefix=prefix)
        out.print(f"{system.name}: {report.total} sagas run on {url}", markup=False)
        for state, count in report.by_state.items():
            out.print(f"  {state:<20} {count}")
        again = [r for r in report.results if r.saga_id in earlier]
        if again:
            out.print(
                f"{len(again)} of them ran before on this store (same seed "
                f"{system.workload.seed}, same ids): their outcome is shown, nothing ran "
                "twice; pass --store for a fresh store",
                markup=False,
            )
        problems = crashes(url, started, [r for r in report.results if r not in again])
    for problem in problems:
        err.print(f"error: the system crashed: {problem}", markup=False)
    if problems:
        raise typer.Exit(EXIT_FAILED)


def _ids_with_prefix(url: str, prefix: str) -> set[str]:
    """Ids of the sagas of an earlier run with ``prefix`` in the store at ``url``."""
    from sagacrew.runtime import SagaState, open_store

    store = open_store(url)
    try:
        ids = store.list_saga_ids([state.value for state in SagaState])
    finally:
        store.close()
    return {saga_id for saga_id in ids if saga_id.startswith(f"{prefix}-")}
