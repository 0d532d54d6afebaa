"""The generated ``order_fulfilment`` example system, as the runtime and operations tests
drive it: its package, wiring and supervision, sample inputs, and what they expect of it."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from sagacrew.agents.generated import open_generated
from sagacrew.runtime import SagaDefinition
from sagacrew.runtime import SagaSystem
from sagacrew.runtime import ScriptedFault
from sagacrew.runtime import ScriptedFaults
from sagacrew.runtime import SupervisorPlan
from sagacrew.runtime import open_store
from sagacrew.runtime import sample_inputs

SYSTEM_DIR = Path(__file__).resolve().parent.parent / "generated" / "order_fulfilment"
GENERATED = open_generated(SYSTEM_DIR)
APP = GENERATED.package
WIRING = importlib.import_module(f"{GENERATED.name}.app")
SUPERVISION: SupervisorPlan = importlib.import_module(f"{GENERATED.name}.supervision").SUPERVISION

CREATE_ORDER_STEPS = (
    "create_order",
    "validate_consumer",
    "create_ticket",
    "authorize_card",
    "confirm_ticket",
    "approve_order",
)
"""The steps of its ``create_order`` saga (FTGO's CreateOrderSaga), in order."""


def order_input(index: int) -> dict[str, Any]:
    """The ``index``-th sample input of ``create_order``."""
    inputs: dict[str, Any] = sample_inputs(APP.SAGA_INPUTS["create_order"], "create_order", index)
    return inputs


def order_system(
    url: str,
    *sagas: SagaDefinition,
    supervision: SupervisorPlan = SUPERVISION,
    **options: Any,
) -> SagaSystem:
    """Its actors and gateways on the store at ``url`` (not started), running its own sagas
    and ``sagas``; ``options`` go to :class:`SagaSystem` (``faults``, ``metrics`` ...)."""
    return SagaSystem(
        name="order_fulfilment",
        store=open_store(url),
        aggregates=WIRING.AGGREGATES,
        gateways=WIRING.GATEWAYS,
        supervision=supervision,
        sagas=(*APP.SAGAS, *sagas),
        **options,
    )


async def run_orders(
    system: SagaSystem, faults: ScriptedFaults, inputs: range, refused: int
) -> None:
    """Start ``system`` and run one ``create_order`` saga per sample input of ``inputs``, in
    turn; the one of input ``refused`` is refused at its pivot (``authorize_card``)."""
    async with system:
        for index in inputs:
            faults.clear()
            if index == refused:
                faults.add(ScriptedFault("create_order", "authorize_card"))
            await system.run_saga("create_order", order_input(index))
