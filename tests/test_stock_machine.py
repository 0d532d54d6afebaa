"""The README's main command on a stock machine: a fresh clone, and nothing on PATH but the
system ``python3`` (no ``python``, no pip of its own) and the shell's basic tools."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

TOOLS = ("bash", "dirname", "basename", "id", "cat", "rm", "mkdir", "uname", "sh")
"""What a stock Debian has besides python3, and the scripts use."""


@pytest.mark.slow
def test_the_demo_ends_with_the_verdict_with_only_python3_on_path(tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3").symlink_to(os.path.realpath(sys.executable))
    for tool in TOOLS:
        found = shutil.which(tool)
        if found is not None:
            (bin_dir / tool).symlink_to(found)
    env = {
        "PATH": str(bin_dir),
        **{
            k: v
            for k, v in os.environ.items()
            if k in ("HOME", "USER", "TMPDIR") or k.startswith(("PIP_", "LANG", "LC_"))
        },
    }
    done = subprocess.run(
        ["bash", "scripts/demo"],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    assert "making the virtual environment .venv" in done.stdout
    assert "VERDICT: PASS (dev)" in done.stdout
    assert "Traceback" not in done.stderr
