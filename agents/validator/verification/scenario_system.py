"""The runtime a fault scenario runs on: a generated system whose transport can break.

``verify`` runs each scenario of the fault plan as a targeted experiment on a store of
its own (:func:`scenario_store_url`). Step and compensation failures go through the
runtime's :class:`~sagacrew.runtime.ScriptedFaults` and duplicate deliveries through
its ``duplicate_delivery_rate``; a lost reply, or a kill between a command's effect and
its reply, needs a hook after the command acted and before its reply reaches the saga:
:class:`ScenarioSystem`'s ``after_effect``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from sagacrew.agents.generated import GeneratedSystem
from sagacrew.agents.validator.verification.side_stores import side_store_url
from sagacrew.runtime import Envelope, FaultInjector, SagaSystem, Store, open_store

AfterEffect = Callable[[str, Envelope], Awaitable[None]]
"""``after_effect(target, envelope)``: awaited after ``target`` acted on the command."""

SCENARIO_SCHEMA = "sagacrew_scenarios"
"""The PostgreSQL schema the fault scenarios of ``verify`` use (reset on every run)."""


class ScenarioSystem(SagaSystem):
    """A :class:`SagaSystem` that awaits ``after_effect`` once a command acted, before
    its reply goes back to the saga: an experiment can lose the reply there (never
    return) or kill the process."""

    def __init__(self, *, after_effect: AfterEffect | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.after_effect = after_effect

    async def dispatch(self, target: str, envelope: Envelope) -> Mapping[str, Any]:
        """Deliver as :meth:`SagaSystem.dispatch` does, then run ``after_effect``."""
        reply = await super().dispatch(target, envelope)
        if self.after_effect is not None:
            await self.after_effect(target, envelope)
        return reply


def build_scenario_system(
    system: GeneratedSystem,
    store_url: str,
    *,
    faults: FaultInjector | None = None,
    duplicate_delivery_rate: float = 0.0,
    after_effect: AfterEffect | None = None,
) -> ScenarioSystem:
    """``system`` wired as its generated ``build_system`` wires it, on ``store_url``,
    with the given faults (the caller closes ``.store`` when done)."""
    return system.definition.build(
        ScenarioSystem,
        open_store(store_url),
        after_effect=after_effect,
        faults=faults,
        duplicate_delivery_rate=duplicate_delivery_rate,
    )


def scenario_store_url(store_url: str, name: str = "scenarios") -> str:
    """A fresh store beside ``store_url`` for the scenarios (see :func:`side_store_url`)."""
    return side_store_url(store_url, name)


def repeated_effects(store: Store, saga_id: str) -> list[str]:
    """Effects of the saga's commands that happened more than once: each stream and
    event type that one command (one idempotency key) appended more than one event of,
    as ``stream_id: event_type xN``."""
    saga = store.get_saga(saga_id)
    if saga is None:
        return []
    seen: dict[tuple[str, str, str], int] = {}
    for event in store.events_of_correlation(saga.correlation_id):
        key = str(event.metadata.get("idempotency_key", ""))
        if key:
            effect = (event.stream_id, event.event_type, key)
            seen[effect] = seen.get(effect, 0) + 1
    return [f"{s}: {t} x{n}" for (s, t, _), n in seen.items() if n > 1]
