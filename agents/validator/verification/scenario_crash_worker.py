"""The process a ``process_crash`` fault scenario kills: runs one saga type, then SIGKILL.

    python -m sagacrew.agents.validator.verification.scenario_crash_worker \
        SYSTEM_DIR STORE_URL SAGA N KILL_AFTER STEP

It runs ``KILL_AFTER`` sagas of ``SAGA`` to their end one after another, then starts the
other ``N - KILL_AFTER`` at once, and kills itself with SIGKILL as soon as one of those
has had the command of step ``STEP`` (an index) acted on, before its reply reaches the
saga: no cleanup, no flush, every remaining saga in flight. Just before the kill it
prints that saga's id. Saga ids are ``scenario-crash-<SAGA>-<n>``. The scenario runner
then restarts the system on the same store and checks every saga still ends.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from sagacrew.agents.generated import open_generated
from sagacrew.agents.validator.verification.scenario_system import build_scenario_system
from sagacrew.runtime import Envelope
from sagacrew.runtime.system import sample_inputs


def crash_saga_id(saga: str, index: int) -> str:
    """The id of saga ``index`` of a crash scenario's run."""
    return f"scenario-crash-{saga}-{index}"


async def _run(root: Path, store_url: str, saga: str, n: int, kill_after: int, step: int) -> None:
    system = open_generated(root)
    types = system.definition.saga_inputs[saga]
    remaining = {crash_saga_id(saga, i) for i in range(kill_after, n)}
    victims = {f"{saga_id}:{step}:forward": saga_id for saga_id in remaining}
    armed = False

    async def kill(_: str, envelope: Envelope) -> None:
        victim = victims.get(envelope.idempotency_key or "")
        if armed and victim is not None:
            print(victim, flush=True)
            os.kill(os.getpid(), signal.SIGKILL)

    saga_system = build_scenario_system(system, store_url, after_effect=kill)
    async with saga_system:
        for i in range(kill_after):
            await saga_system.run_saga(
                saga, sample_inputs(types, saga, i, "crash"), saga_id=crash_saga_id(saga, i)
            )
        armed = True
        await asyncio.gather(
            *(
                saga_system.run_saga(
                    saga, sample_inputs(types, saga, i, "crash"), saga_id=crash_saga_id(saga, i)
                )
                for i in range(kill_after, n)
            )
        )


def main(argv: list[str]) -> None:
    """Run the crash scenario's workload; exit 3 if it ended before the kill."""
    root, store_url, saga, n, kill_after, step = argv
    asyncio.run(_run(Path(root), store_url, saga, int(n), int(kill_after), int(step)))
    sys.exit(3)  # every saga ended and none reached the step: nothing was killed


if __name__ == "__main__":
    main(sys.argv[1:])
