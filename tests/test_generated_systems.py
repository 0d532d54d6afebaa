"""The examples end to end: generate byte-identically, lint clean, pass their own tests,
and get a passing `dev` verdict from the Consistency Validator."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sagacrew.agents.generated import open_generated
from sagacrew.agents.spec import load_spec
from sagacrew.agents.validator import Verdict
from sagacrew.crew.emit import emit_files
from sagacrew.crew.emit.system import user_owned
from sagacrew.crew.pipeline import design

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted(p.stem for p in (ROOT / "examples").glob("*.yaml"))


def committed_files(system_dir: Path) -> dict[str, str]:
    """The files git tracks under ``system_dir`` (SVGs aside: Graphviz versions differ)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "."], cwd=system_dir, capture_output=True, text=True, check=True
    ).stdout.split("\0")
    return {
        name: (system_dir / name).read_text("utf-8")
        for name in sorted(filter(None, listed))
        if not name.endswith(".svg")
    }


def test_three_pilot_examples_ship() -> None:
    assert {"order_fulfilment", "user_provisioning", "ml_training"} <= set(EXAMPLES)


@pytest.mark.parametrize("example", EXAMPLES)
def test_example_regenerates_byte_identical_to_the_committed_output(example: str) -> None:
    spec_path = ROOT / "examples" / f"{example}.yaml"
    spec = load_spec(spec_path)
    files = emit_files(design(spec, str(spec_path)))
    committed = committed_files(ROOT / "generated" / spec.system)
    assert sorted(files) == sorted(committed)
    owned = user_owned(spec.system)  # created once, then the user's (the business rules)
    for path, text in files.items():
        if path not in owned:
            assert committed[path] == text, f"generated/{spec.system}/{path} differs"


@pytest.mark.parametrize("example", EXAMPLES)
def test_generated_code_lints_clean_and_is_ruff_formatted(example: str) -> None:
    from sagacrew.agents.validator import lint_path
    from sagacrew.agents.validator import load_taxonomy

    system_dir = ROOT / "generated" / load_spec(ROOT / "examples" / f"{example}.yaml").system
    taxonomy = load_taxonomy(system_dir / "taxonomy.json")
    assert [str(f) for f in lint_path(system_dir, taxonomy=taxonomy)] == []
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "ruff",
            "format",
            "--check",
            "--isolated",
            "--line-length",
            "100",
            str(system_dir),
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.slow
@pytest.mark.parametrize("example", EXAMPLES)
def test_generated_test_suite_passes_on_the_runtime(example: str) -> None:
    system_dir = ROOT / "generated" / load_spec(ROOT / "examples" / f"{example}.yaml").system
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(system_dir / "tests")],
        capture_output=True,
        text=True,
        cwd=system_dir,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]


def untimed_failures(verdict: Verdict) -> list[str]:
    """Failed gates other than the step-latency ones, and lint findings. Latency depends on
    the machine's load, so it is measured by the benchmarks (bench/), not asserted here."""
    failed = [g.name for g in verdict.gates if not g.passed and g.unit != "ms"]
    return failed + [f"lint: {finding}" for finding in verdict.lint_findings]


@pytest.mark.slow
@pytest.mark.parametrize("example", EXAMPLES)
def test_verify_passes_every_gate_but_timing_on_each_example(example: str, tmp_path: Path) -> None:
    from sagacrew.agents.validator.verification.verify import verify

    system_dir = ROOT / "generated" / load_spec(ROOT / "examples" / f"{example}.yaml").system
    system = open_generated(system_dir)
    result = verify(
        system, profile="dev", store_url=f"sqlite:///{tmp_path / 'v.db'}", run_tests=False
    )
    verdict = result.verdict
    assert untimed_failures(verdict) == [], verdict.to_markdown()
    crash = result.crash
    assert crash is not None and crash.recovered > 0
    assert set(crash.by_state) <= {"completed", "compensated"}
    # the crash run's sagas (ended before the kill, or resumed after it) count too
    assert verdict.sagas_total >= result.workload.total + crash.ended_before_kill + crash.recovered
    assert result.report_md.is_file() and result.report_json.is_file()
    states = result.workload.by_state
    assert states.get("completed", 0) > 0
    assert states.get("compensated", 0) + states.get("compensation_failed", 0) > 0


@pytest.mark.slow
def test_crewai_flow_gives_the_same_blueprint_as_the_plain_pipeline() -> None:
    from sagacrew.crew.flow import run_flow

    spec_path = ROOT / "examples" / "order_fulfilment.yaml"
    spec = load_spec(spec_path)
    assert run_flow(spec, str(spec_path)).to_json() == design(spec, str(spec_path)).to_json()


@pytest.mark.slow
@pytest.mark.postgres
def test_the_order_system_passes_every_gate_but_timing_on_postgresql_too(
    postgres_url: str,
) -> None:
    from sagacrew.agents.validator.verification.verify import verify

    system = open_generated(ROOT / "generated" / "order_fulfilment")
    result = verify(system, profile="dev", store_url=postgres_url, run_tests=False)
    assert untimed_failures(result.verdict) == [], result.verdict.to_markdown()
    assert result.crash is not None and result.crash.recovered > 0
    assert {c.name for c in result.verdict.checks if c.violation_count} == set()
