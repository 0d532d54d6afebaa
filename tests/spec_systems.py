"""Systems generated from a spec into a test's folder, and what their sagas do there."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

from sagacrew.agents.spec import parse_spec
from sagacrew.crew.emit.system import emit_files
from sagacrew.crew.emit.system import write_files
from sagacrew.crew.pipeline import design
from sagacrew.runtime import SagaState
from sagacrew.runtime import SystemDefinition
from sagacrew.runtime.testing import compensated_steps
from sagacrew.runtime.testing import refusal_at
from sagacrew.runtime.testing import run_one_saga


def generated_system(spec: str, out: Path, package: str) -> tuple[SystemDefinition, str]:
    """Generate the system of ``spec`` (YAML text) into ``out`` and import its ``package``
    from there: its ``build_system``, and the text of its ``sagas.py``."""
    write_files(emit_files(design(parse_spec(spec, "s.yaml"), "s.yaml")), out)
    sys.path.insert(0, str(out))
    try:
        build: SystemDefinition = importlib.import_module(package).build_system
    finally:
        sys.path.remove(str(out))
    return build, (out / package / "sagas.py").read_text("utf-8")


def compensated_after_refusal(
    build: SystemDefinition, store_url: str, saga: str, step: str
) -> list[str]:
    """Run one ``saga`` on a fresh system with ``step`` refused for good: the saga must end
    compensated. Returns the steps whose compensation succeeded, in the order they were
    compensated."""
    result, rows = run_one_saga(build, store_url, saga, faults=refusal_at(saga, step))
    assert result.state == SagaState.COMPENSATED, result.error
    return compensated_steps(rows)
