"""``remediate`` and ``verify`` agree: on the same store and profile, SAGA-001 (transaction
failure) fires exactly when verify's success-rate gate fails.

The store holds 12 completed sagas and 1 compensated (92.3 %): above dev's 90 %, below
prod's 99.5 %. (SAGA-001 used to fire at a fixed 95 %, failing a store dev had passed.)
"""

from __future__ import annotations

import asyncio

import pytest
from cli_helpers import copy_of_generated
from cli_helpers import sagacrew
from order_example import run_orders

from sagacrew.agents.generated import GeneratedSystem
from sagacrew.agents.generated import open_generated
from sagacrew.agents.validator.verification.judge import judge_store
from sagacrew.agents.validator.verification.ops_checks import trigger_policy
from sagacrew.runtime import ScriptedFaults


@pytest.fixture(scope="module")
def system_and_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[GeneratedSystem, str]:
    """A copy of order_fulfilment and a store of its 13 sagas, one refused at the pivot."""
    root = copy_of_generated("order_fulfilment", tmp_path_factory.mktemp("agree"))
    system = open_generated(root)
    url = f"sqlite:///{root / 'shared.db'}"
    faults = ScriptedFaults()
    built = system.package.build_system(url, faults=faults)
    asyncio.run(run_orders(built, faults, range(100, 113), refused=106))
    built.store.close()
    return system, url


@pytest.mark.parametrize(("profile", "fails"), [("dev", False), ("prod", True)])
def test_remediate_fires_saga_001_exactly_when_verify_fails_the_success_rate_gate(
    system_and_store: tuple[GeneratedSystem, str], profile: str, fails: bool
) -> None:
    system, url = system_and_store
    verdict = judge_store(system, url, profile=profile).verdict
    gate = next(g for g in verdict.gates if g.name == "success_rate")
    assert gate.measured == pytest.approx(12 / 13)
    assert gate.passed is not fails
    assert trigger_policy(system, profile).success_rate_min == gate.threshold

    done = sagacrew("remediate", str(system.root), "--store", url, "--profile", profile)
    assert ("SAGA-001" in done.stdout) is fails, done.stdout + done.stderr
    reports = sorted((system.state_dir / "reports").glob("incident-SAGA-001-*.json"))
    assert bool(reports) is fails
