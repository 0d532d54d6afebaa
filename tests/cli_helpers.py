"""Running the ``sagacrew`` command line in a subprocess, as a user does."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

BROKEN_CONTEXTS = (
    "system: broken\n"
    "contexts:\n"
    "  shop:\n"
    "    aggregates:\n"
    "      cart:\n"
    "        identity: cart_id\n"
    "        fields: {cart_id: str}\n"
    "        commands:\n"
    "          open_cart: {kind: crate}\n"
)
"""The first half of a broken spec: 9 lines, the last with an unknown command kind."""
BROKEN_SAGAS = (
    "sagas:\n"
    "  checkout:\n"
    "    trigger: shop.cart.open_cart\n"
    "    steps:\n"
    "      - {name: open, invoke: shop.cart.open_cart, pivott: true}\n"
)
"""Its second half: 5 lines, the last with an unknown step field."""

MAIN = "from sagacrew.crew.cli import main; main()"
"""The CLI's entry point as ``python -c`` code (what the installed ``sagacrew`` script runs)."""


def sagacrew(
    *args: str,
    cwd: Path = ROOT,
    code: str | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    exits: int | None = None,
) -> subprocess.CompletedProcess[str]:
    """``sagacrew ARGS`` as ``python -m sagacrew.crew.cli`` (or ``python -c code``), with
    crewAI's telemetry off and ``env`` added; a non-zero exit is returned, not raised.
    ``exits``: the exit code it must end with (else the assertion shows both outputs)."""
    command = ["-m", "sagacrew.crew.cli"] if code is None else ["-c", code]
    quiet = {"CREWAI_DISABLE_TELEMETRY": "true", "OTEL_SDK_DISABLED": "true"}
    done = subprocess.run(
        [sys.executable, *command, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **quiet, **(env or {})},
        check=False,
        timeout=timeout,
    )
    if exits is not None:
        assert done.returncode == exits, done.stdout + done.stderr
    return done


def copy_of_generated(system: str, into: Path) -> Path:
    """A copy of ``generated/<system>`` as ``into/<system>``, without its state
    (``.sagacrew``) and caches."""
    target = into / system
    shutil.copytree(
        ROOT / "generated" / system,
        target,
        ignore=shutil.ignore_patterns(".sagacrew", ".benchmarks", ".mypy_cache", "__pycache__"),
    )
    return target
