"""``sagacrew verify --skip-crash --skip-contention`` really skips those phases (the flags
were once parsed and ignored): only the workload's sagas reach the store."""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_verify_skips_the_crash_and_contention_phases_when_asked(tmp_path: Path) -> None:
    system = tmp_path / "order_fulfilment"
    shutil.copytree(
        ROOT / "generated" / "order_fulfilment", system, ignore=shutil.ignore_patterns(".sagacrew")
    )
    env = {**os.environ, "CREWAI_DISABLE_TELEMETRY": "true", "OTEL_SDK_DISABLED": "true"}
    skip = ["--skip-tests", "--skip-crash", "--skip-contention"]
    done = subprocess.run(
        [sys.executable, "-m", "sagacrew.crew.cli", "verify", str(system), *skip],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode in (0, 1), done.stdout + done.stderr  # a verdict, not an error
    ran = re.search(r"sagas run: (\d+)", done.stdout)
    assert ran is not None, done.stdout
    state = system / ".sagacrew"
    with sqlite3.connect(state / "verify-dev.db") as db:
        [(stored,)] = db.execute("SELECT COUNT(*) FROM saga_executions").fetchall()
    assert stored == int(ran.group(1))  # no crash-run sagas on top of the workload
    assert not (state / "verify-dev-contention.db").exists()
