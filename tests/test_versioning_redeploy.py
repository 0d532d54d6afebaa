"""A redeploy with a changed saga, on both stores: sagas accepted on version 1 finish on
their own plan after the system is regenerated with a step added after the pivot and
restarted, new sagas run the new plan, and ``sagacrew versions --store`` counts the
sagas on each version and refuses to drop one still in use."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from async_helpers import run
from cli_helpers import sagacrew
from test_generation_gap import forget_package
from test_versioning_versions import ADDED
from test_versioning_versions import ORDER
from test_versioning_versions import PACKAGE

from sagacrew.crew.pipeline import generate
from sagacrew.runtime import SagaSystem
from sagacrew.runtime.saga import Lease
from sagacrew.runtime.store import open_store

ACCEPTED = 3
"""Sagas accepted (queued, not yet driven) on version 1 when the process stops."""


@pytest.fixture
def system(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "system"
    sys.path.insert(0, str(folder))
    yield folder
    sys.path.remove(str(folder))
    forget_package(PACKAGE)


def deploy(spec: Path, text: str, folder: Path) -> ModuleType:
    """Generate the system from ``text`` and import its package afresh."""
    spec.write_text(text, "utf-8")
    generate(spec, folder)
    forget_package(PACKAGE)
    importlib.invalidate_caches()  # the folder's listing changed since the last import
    return importlib.import_module(PACKAGE)


def test_sagas_accepted_on_version_1_finish_on_it_after_a_redeploy_with_version_2(
    system: Path, tmp_path: Path, store_url: str
) -> None:
    spec = tmp_path / "order_fulfilment.yaml"
    first = deploy(spec, ORDER, system)
    (v1,) = first.SAGAS

    async def accept() -> None:  # the API of version 1 accepts sagas, then the process stops
        front = first.build_system.build(
            SagaSystem, open_store(store_url), lease=Lease("api", capacity=0)
        )
        async with front:
            assert front.orchestrator is not None
            for i in range(ACCEPTED):
                inputs = first.build_system.sample_inputs("create_order", i, "v1")
                await front.orchestrator.start("create_order", inputs, saga_id=f"old-{i}")
        front.store.close()

    run(accept, timeout_s=120)
    second = deploy(spec, ADDED, system)
    (v2,) = second.SAGAS
    assert [s.version for s in second.EARLIER_SAGAS] == [v1.version] != [v2.version]
    listed = sagacrew("versions", str(system), "--store", store_url)
    assert f"{v1.version}: earlier" in listed.stdout
    assert f"{ACCEPTED} in flight or dead-lettered" in listed.stdout, listed.stdout
    refused = sagacrew("versions", str(system), "--drop", v1.version, "--store", store_url)
    assert refused.returncode == 2 and "still used by 3 saga" in refused.stderr

    async def redeployed() -> None:
        restarted = second.build_system(store_url)
        async with restarted:
            assert sorted(restarted.recovered) == [f"old-{i}" for i in range(ACCEPTED)]
            orchestrator = restarted.orchestrator
            assert orchestrator is not None
            inputs = second.build_system.sample_inputs("create_order", 9, "v2")
            await orchestrator.start("create_order", inputs, saga_id="new-0")
            for saga_id in [*restarted.recovered, "new-0"]:
                await orchestrator.wait(saga_id)
            store = restarted.store
            plans = {
                saga_id: [r.step_name for r in store.step_log(saga_id) if r.status == "succeeded"]
                for saga_id in ["old-0", "new-0"]
            }
            assert plans == {
                "old-0": [s.name for s in v1.steps],
                "new-0": [s.name for s in v2.steps],
            }
            assert plans["new-0"][-1] == "reconfirm_ticket" not in plans["old-0"]
            states = {store.get_saga(s).state for s in [*restarted.recovered, "new-0"]}  # type: ignore[union-attr]
            assert states == {"completed"}

    run(redeployed, timeout_s=120)
    dropped = sagacrew("versions", str(system), "--drop", v1.version, "--store", store_url)
    assert dropped.returncode == 0, dropped.stderr
    assert not (system / PACKAGE / "earlier_sagas.py").exists()
