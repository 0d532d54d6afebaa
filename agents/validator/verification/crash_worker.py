"""The process ``sagacrew verify`` kills: runs a workload and SIGKILLs itself midway.

    python -m sagacrew.agents.validator.verification.crash_worker \
        SYSTEM_DIR STORE_URL SAGAS_PER_TYPE KILL_AFTER

It runs the generated system's workload (fault plan included) with saga ids
``crash-<saga>-<n>`` and, once ``KILL_AFTER`` sagas have ended, kills itself with SIGKILL:
no cleanup, no flush, sagas in flight mid-step. Verify then restarts the system on the
same store and checks every saga still ends, each effect applied once.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from sagacrew.agents.generated import open_generated
from sagacrew.agents.validator.verification.verify import run_workload
from sagacrew.runtime import SagaResult


def main(argv: list[str]) -> None:
    system_dir, store_url, sagas_per_type, kill_after = argv
    system = open_generated(Path(system_dir))
    ended = 0

    def count(_: SagaResult) -> None:
        nonlocal ended
        ended += 1
        if ended >= int(kill_after):
            os.kill(os.getpid(), signal.SIGKILL)

    run_workload(
        system, store_url, sagas_per_type=int(sagas_per_type), id_prefix="crash", on_done=count
    )
    sys.exit(3)  # the workload ended before the kill: the caller asked for too few sagas


if __name__ == "__main__":
    main(sys.argv[1:])
