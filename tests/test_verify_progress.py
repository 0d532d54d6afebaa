"""``verify`` says what it is doing as it does it, and ``--help`` shows flags as flags."""

from __future__ import annotations

import io

from cli_helpers import sagacrew
from rich.console import Console

from sagacrew.crew.cli_verify import PhaseProgress


def test_each_phase_is_announced_when_it_starts_and_timed_when_it_ends() -> None:
    output = io.StringIO()
    with PhaseProgress(Console(file=output, width=100)) as progress:
        progress("generated tests", 0, 1)
        progress("generated tests", 1, 1)
        for done in range(41):
            progress("fault-injected workload", done, 40)
        progress("crash and restart", 0, 1)
        progress("crash and restart", 1, 1)
        progress("consistency checks", 0, 1)
    lines = [line for line in output.getvalue().splitlines() if line.strip()]
    assert lines[0] == "1. generated tests..."
    assert lines[1].startswith("   generated tests: done in ") and lines[1].endswith(" s")
    assert lines[2] == "2. fault-injected workload (40)..."
    assert lines[3].startswith("   fault-injected workload: done in ")
    assert lines[4:6] == ["3. crash and restart...", lines[5]]
    assert lines[6] == "4. consistency checks..."  # started, not ended: no "done" line
    assert len(lines) == 7
    assert sum("done in" in line for line in lines) == 3


def test_verify_help_shows_flags_as_flags_and_urls_as_urls() -> None:
    done = sagacrew("verify", "--help", env={"COLUMNS": "120", "TERM": "dumb"})
    assert done.returncode == 0, done.stderr
    rows = {line.split()[1]: line for line in done.stdout.splitlines() if "--" in line}
    for flag in ("--skip-tests", "--skip-crash", "--skip-contention", "--help"):
        assert "<bool>" not in rows[flag], rows[flag]
    assert "URL" in rows["--store"] and "URL" in rows["--judge-store"]
    assert "<dev|prod>" in rows["--profile"]
    assert "<bool>" not in done.stdout
