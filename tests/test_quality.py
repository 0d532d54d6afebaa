"""House rules a reviewer checks by hand: ruff, mypy --strict, no stubs in shipped code."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ("crew", "agents", "runtime")
STUB = re.compile(r"NotImplementedError|\bTODO\b|\bFIXME\b|\bXXX\b")


def run(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None) -> str:
    import os

    done = subprocess.run(
        [sys.executable, "-m", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    return done.stdout


@pytest.fixture(scope="module")
def namespace_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The installed layout, ``sagacrew/{crew,agents,runtime}``, as symlinks mypy can follow
    (it cannot see through the editable install's import hook)."""
    tree = tmp_path_factory.mktemp("mypy")
    (tree / "sagacrew").mkdir()
    for package in PRODUCT:
        (tree / "sagacrew" / package).symlink_to(ROOT / package, target_is_directory=True)
    return tree


def test_no_stub_or_todo_ships_in_product_or_generated_code() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{number}"
        for folder in (*PRODUCT, "generated")
        for path in sorted((ROOT / folder).rglob("*.py"))
        for number, line in enumerate(path.read_text("utf-8").splitlines(), 1)
        if STUB.search(line)
    ]
    assert found == []


def test_ruff_lint_and_format_are_clean() -> None:
    run("ruff", "check", *PRODUCT, "tests", "bench")
    run("ruff", "format", "--check", *PRODUCT, "tests", "bench")


@pytest.mark.slow
def test_mypy_strict_passes_on_the_product(namespace_tree: Path) -> None:
    run(
        "mypy",
        "--config-file",
        str(ROOT / "pyproject.toml"),
        "--explicit-package-bases",
        "-p",
        "sagacrew",
        cwd=namespace_tree,
        env={"MYPYPATH": str(namespace_tree)},
    )


@pytest.mark.slow
@pytest.mark.parametrize("system", sorted(p.name for p in (ROOT / "generated").iterdir()))
def test_mypy_strict_passes_on_generated_code(system: str, namespace_tree: Path) -> None:
    run(
        "mypy",
        "--config-file",
        str(ROOT / "pyproject.toml"),
        "--explicit-package-bases",
        system,
        "tests",
        cwd=ROOT / "generated" / system,
        env={"MYPYPATH": str(namespace_tree)},
    )


@pytest.mark.slow
def test_typed_actor_refs_refuse_other_messages_at_type_check_time(
    namespace_tree: Path, tmp_path: Path
) -> None:
    import os

    sample = tmp_path / "typed_refs.py"
    sample.write_text(
        "from sagacrew.runtime import ActorRef, Envelope\n\n\n"
        "def use(ref: ActorRef[Envelope], anything: ActorRef) -> None:\n"
        "    ref.tell(Envelope.origin('ping', {}))\n"
        "    anything.tell(42)\n"
        "    ref.tell(42)\n",
        "utf-8",
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--explicit-package-bases",
            "--cache-dir",
            str(namespace_tree / ".mypy_cache"),
            str(sample),
        ],
        cwd=namespace_tree,
        capture_output=True,
        text=True,
        env={**os.environ, "MYPYPATH": str(namespace_tree)},
    )
    errors = [line for line in done.stdout.splitlines() if ": error:" in line]
    assert len(errors) == 1 and "typed_refs.py:7:" in errors[0], done.stdout
