"""A spec with Unicode names generates a system whose own test suite passes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sagacrew.crew.pipeline import generate

SPEC = Path(__file__).resolve().parent / "data" / "specs" / "unicode_bestellung.yaml"


@pytest.mark.slow
def test_unicode_names_generate_a_working_system(tmp_path: Path) -> None:
    result = generate(SPEC, tmp_path / "out", use_flow=False)
    assert "bestellsystem/actors.py" in result.files
    assert "class AuftragActorBase" in result.files["bestellsystem/actors.py"]
    assert '"bestätigen"' in result.files["bestellsystem/sagas.py"]
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=tmp_path / "out",
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout[-2000:]
