"""The generated ML example (``generated/ml_training``) for tests that plug in their own
training-cluster gateway: its package, and its system with that gateway."""

from __future__ import annotations

import dataclasses
import importlib
import sys
from pathlib import Path
from typing import Any

from sagacrew.runtime import SandboxGateway
from sagacrew.runtime import SystemDefinition

ROOT = Path(__file__).resolve().parent.parent
SYSTEM_DIR = ROOT / "generated" / "ml_training"
EVENT = "ml.training_run.completed"


def _package() -> Any:
    sys.path.insert(0, str(SYSTEM_DIR))
    try:
        return importlib.import_module("ml_training")
    finally:
        sys.path.remove(str(SYSTEM_DIR))


ML = _package()
"""The imported ``ml_training`` package."""


def with_cluster(gateway: type[SandboxGateway], timeout_s: float | None = None) -> SystemDefinition:
    """The ML example's system with ``gateway`` as its training cluster (and, given
    ``timeout_s``, that timeout on ``dispatch_training``)."""
    build: SystemDefinition = ML.build_system
    sagas = build.sagas
    if timeout_s is not None:
        sagas = tuple(
            dataclasses.replace(
                saga,
                steps=[
                    dataclasses.replace(s, timeout_s=timeout_s)
                    if s.name == "dispatch_training"
                    else s
                    for s in saga.steps
                ],
            )
            for saga in sagas
        )
    return dataclasses.replace(build, gateways=(gateway,), sagas=sagas)
