"""A workload killed with SIGKILL midway, in a child process: what the crash phase and
the redeploy phase of ``verify`` restart from.

The child (:mod:`.crash_worker`) runs the generated system's workload (fault plan
included) on the given store with saga ids ``crash-<saga>-<n>`` and kills itself once
``kill_after`` sagas have ended: no cleanup, no flush, the other sagas in flight.
"""

from __future__ import annotations

import signal
import subprocess
import sys

from sagacrew.agents.generated import GeneratedSystem

__all__ = ["kill_midway"]


def kill_midway(
    system: GeneratedSystem, store_url: str, *, sagas_per_type: int, kill_after: int
) -> None:
    """Run ``sagas_per_type`` sagas of every type of ``system`` (as generated on disk)
    on ``store_url`` in a child process SIGKILLed once ``kill_after`` of them ended;
    ``RuntimeError`` with the child's last line when it was not killed."""
    child = subprocess.run(
        [
            sys.executable,
            "-m",
            "sagacrew.agents.validator.verification.crash_worker",
            str(system.root.resolve()),
            store_url,
            str(sagas_per_type),
            str(kill_after),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if child.returncode != -signal.SIGKILL:
        tail = (child.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"the crash run exited with {child.returncode}, not SIGKILL: {tail}")
