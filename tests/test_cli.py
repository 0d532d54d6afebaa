"""The command line as a user meets it: fast help, one-line errors, exit codes."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from cli_helpers import BROKEN_CONTEXTS
from cli_helpers import BROKEN_SAGAS
from cli_helpers import MAIN
from cli_helpers import ROOT
from cli_helpers import sagacrew


def test_help_lists_every_subcommand_without_importing_crewai() -> None:
    probe = (
        "import sys\n"
        "from sagacrew.crew.cli import app\n"
        "import typer.testing\n"
        "r = typer.testing.CliRunner().invoke(app, ['--help'])\n"
        "print(r.output)\n"
        "print('CREWAI_LOADED' if 'crewai' in sys.modules else 'CREWAI_ABSENT')\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    for command in ("generate", "run", "verify", "render", "lint", "schema"):
        assert command in done.stdout
    assert "CREWAI_ABSENT" in done.stdout


def test_runtime_import_never_loads_crewai() -> None:
    probe = "import sys, sagacrew.runtime; print('crewai' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.stdout.strip() == "False", done.stderr


def test_broken_spec_gives_exit_2_with_file_line_col_and_no_traceback(tmp_path: Path) -> None:
    spec = tmp_path / "broken.yaml"
    spec.write_text(BROKEN_CONTEXTS + BROKEN_SAGAS, "utf-8")
    out = tmp_path / "out"
    done = sagacrew("generate", str(spec), "-o", str(out))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) >= 2  # every error at once
    assert any(line.startswith(f"{spec}:9:") and "crate" in line for line in lines), lines
    assert any(f"{spec}:14:" in line and "pivot" in line for line in lines), lines
    assert not out.exists()


def test_missing_spec_file_is_one_line(tmp_path: Path) -> None:
    done = sagacrew("generate", str(tmp_path / "nope.yaml"))
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1
    assert "nope.yaml" in done.stderr


def test_wrong_cli_argument_is_one_line_and_exit_2() -> None:
    done = sagacrew("verify", "generated/order_fulfilment", "--profile", "staging")
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1
    assert "staging" in done.stderr


def test_run_on_a_folder_that_is_not_generated_says_how_to_fix(tmp_path: Path) -> None:
    done = sagacrew("run", str(tmp_path))
    assert done.returncode == 2
    assert "sagacrew generate" in done.stderr
    assert "Traceback" not in done.stderr


def test_schema_prints_the_spec_json_schema() -> None:
    done = sagacrew("schema")
    assert done.returncode == 0
    schema = json.loads(done.stdout)
    assert {"system", "contexts", "sagas"} <= set(schema["properties"])


def test_render_writes_dot_and_mermaid(tmp_path: Path) -> None:
    done = sagacrew("render", str(ROOT / "examples" / "order_fulfilment.yaml"), "-o", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "create_order.dot").read_text().startswith("digraph")
    assert "flowchart" in (tmp_path / "create_order.mmd").read_text()


def test_lint_flags_a_stub_compensation(tmp_path: Path) -> None:
    bad = tmp_path / "saga.py"
    bad.write_text(
        "import logging\n"
        "log = logging.getLogger(__name__)\n\n"
        "async def compensate_training(ctx):\n"
        "    # TODO: cancel in-flight training jobs\n"
        "    log.warning('Compensating: canceling training jobs')\n"
        "    return {'status': 'compensated'}\n",
        "utf-8",
    )
    done = sagacrew("lint", str(bad))
    assert done.returncode == 1
    assert f"{bad}:4:" in done.stdout
    assert "SAGA-L001" in done.stdout


def test_demo_steps_run_and_verify_from_relative_paths_without_violations(tmp_path: Path) -> None:
    import shutil

    system = tmp_path / "generated" / "order_fulfilment"
    shutil.copytree(ROOT / "generated" / "order_fulfilment", system)
    for _ in range(2):  # a second run on the same store works on aggregates of its own
        ran = sagacrew("run", "generated/order_fulfilment", "--sagas", "5", cwd=tmp_path)
        assert ran.returncode == 0, ran.stderr
        assert "5 sagas run" in ran.stdout
    import sqlite3

    with sqlite3.connect(system / ".sagacrew" / "runtime.db") as db:
        clashes = db.execute(
            "SELECT COUNT(*) FROM saga_executions WHERE error LIKE '%already exists%'"
        ).fetchone()[0]
    assert clashes == 0
    verified = sagacrew("verify", "generated/order_fulfilment", cwd=tmp_path)
    assert verified.returncode in (0, 1), verified.stdout + verified.stderr
    # Every gate passes but, on a loaded machine, the step-latency ones (timing belongs to
    # the benchmarks): "VERDICT: PASS", or "VERDICT: FAIL (dev): <latency gates only>".
    verdict = re.search(r"VERDICT: (PASS|FAIL \(dev\): (.*))", verified.stdout)
    assert verdict is not None, verified.stdout
    failed = set(verdict.group(2).split(", ")) if verdict.group(2) else set()
    assert failed <= {"step_latency_p95_ms", "step_latency_p99_ms"}, verified.stdout
    assert "violation" not in verified.stdout
    assert (system / ".sagacrew" / "reports" / "verdict.md").is_file()


def test_an_output_folder_that_cannot_be_made_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("in the way", "utf-8")
    done = sagacrew(
        "generate",
        str(ROOT / "examples" / "order_fulfilment.yaml"),
        "-o",
        str(blocker / "out"),
        "--no-flow",
    )
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1
    assert "a-file" in done.stderr and "Traceback" not in done.stderr


def test_generate_without_crewai_runs_the_same_steps_and_says_how_to_add_it(
    tmp_path: Path,
) -> None:
    hidden = "import sys; sys.modules['crewai'] = None; " + MAIN
    spec = str(ROOT / "examples" / "order_fulfilment.yaml")
    done = sagacrew("generate", spec, "-o", str(tmp_path / "out"), code=hidden)
    assert done.returncode == 0, done.stderr
    assert "crewAI is not installed" in done.stderr
    assert "pip install 'sagacrew[crewai]'" in done.stderr
    assert (tmp_path / "out" / "order_fulfilment" / "sagas.py").read_text("utf-8") == (
        ROOT / "generated" / "order_fulfilment" / "order_fulfilment" / "sagas.py"
    ).read_text("utf-8")
    llm = sagacrew("generate", spec, "-o", str(tmp_path / "llm"), "--llm", code=hidden)
    assert llm.returncode == 2
    assert "--llm needs crewAI" in llm.stderr
    assert "Traceback" not in llm.stderr
