"""The operations commands as a user meets them: subprocesses on a store the test prepares."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import cli_helpers
import pytest

from sagacrew.agents.generated import open_generated
from sagacrew.runtime import SagaState
from sagacrew.runtime import ScriptedFault
from sagacrew.runtime import ScriptedFaults
from sagacrew.runtime import sample_inputs

# Registers the commands (idempotently: the main CLI may register them already).
DRIVER = (
    "from sagacrew.crew.cli import app, main\n"
    "from sagacrew.crew.cli_ops import register\n"
    "register(app)\n"
    "main()\n"
)


def sagacrew(*args: str, exits: int = 0) -> subprocess.CompletedProcess[str]:
    """``sagacrew ARGS`` with the operations commands registered; it must exit ``exits``."""
    return cli_helpers.sagacrew(*args, code=DRIVER, exits=exits)


@pytest.fixture
def system_dir(tmp_path: Path) -> Path:
    """A copy of order_fulfilment whose default store holds one parked compensation."""
    target = cli_helpers.copy_of_generated("order_fulfilment", tmp_path)
    app = open_generated(target).package
    (target / ".sagacrew").mkdir()
    faults = ScriptedFaults(
        [
            ScriptedFault("create_order", "authorize_card", retriable=False),
            ScriptedFault(
                "create_order", "create_ticket", phase="compensation", retriable=True, times=3
            ),
        ]
    )

    system = app.build_system(f"sqlite://{target / '.sagacrew' / 'runtime.db'}", faults=faults)

    async def prepare() -> None:
        async with system:
            data = sample_inputs(app.SAGA_INPUTS["create_order"], "create_order", 1)
            result = await system.run_saga("create_order", data)
            assert result.state is SagaState.COMPENSATION_FAILED

    asyncio.run(prepare())
    system.store.close()
    return target


def one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


@pytest.mark.slow
def test_dead_letters_list_and_show_the_parked_compensation(system_dir: Path) -> None:
    listed = sagacrew("dead-letters", "list", str(system_dir))
    assert "create_ticket" in listed.stdout and "parked" in listed.stdout
    shown = sagacrew("dead-letters", "show", str(system_dir), "1")
    for text in ("dead letter 1", "status:         parked", '"step_result"', "attempt 3 failed"):
        assert text in shown.stdout


@pytest.mark.slow
def test_an_unknown_dead_letter_id_is_one_line_and_exit_2(system_dir: Path) -> None:
    done = sagacrew("dead-letters", "show", str(system_dir), "42", exits=2)
    line = one_line_error(done)
    assert "no dead letter with id 42" in line and "dead-letters list" in line
    redrive = sagacrew("dead-letters", "redrive", str(system_dir), "42", exits=2)
    assert "no dead letter with id 42" in one_line_error(redrive)


@pytest.mark.slow
def test_redrive_compensates_the_saga_and_a_second_redrive_is_refused(system_dir: Path) -> None:
    done = sagacrew("dead-letters", "redrive", str(system_dir), "1")
    assert "dead letter 1: redriven" in done.stdout and "compensated" in done.stdout
    again = sagacrew("dead-letters", "redrive", str(system_dir), "1", exits=2)
    assert "'redriven', not parked" in one_line_error(again)
    listed = sagacrew("dead-letters", "list", str(system_dir))
    assert "no parked dead letters" in listed.stdout


@pytest.mark.slow
def test_remediate_redrives_and_exits_1_while_an_incident_stays_unresolved(
    system_dir: Path,
) -> None:
    # the only saga ended in failure: SAGA-001 cannot be undone by a redrive
    done = sagacrew("remediate", str(system_dir), exits=1)
    assert "SAGA-001" in done.stdout and "SAGA-002" in done.stdout
    assert "NOT RESOLVED: SAGA-001" in done.stdout
    reports = system_dir / ".sagacrew" / "reports"
    (incident,) = reports.glob("incident-SAGA-002-*.md")
    assert "**RESOLVED**" in incident.read_text("utf-8")
    assert list(reports.glob("incident-SAGA-001-*.json"))


@pytest.mark.slow
def test_rollback_resumes_and_writes_its_report(system_dir: Path) -> None:
    done = sagacrew("rollback", str(system_dir), "--drain-timeout-s", "5")
    assert "RESUMED" in done.stdout
    (report,) = (system_dir / ".sagacrew" / "reports").glob("rollback-*.md")
    assert "| 4 | replay_check | OK |" in report.read_text("utf-8")


@pytest.mark.slow
def test_commands_without_a_store_say_how_to_make_one(tmp_path: Path) -> None:
    target = cli_helpers.copy_of_generated("order_fulfilment", tmp_path)
    for args in (("dead-letters", "list"), ("rollback",), ("remediate",)):
        line = one_line_error(sagacrew(*args, str(target), exits=2))
        assert "no store yet" in line and "sagacrew run" in line
    assert not (target / ".sagacrew").exists()
