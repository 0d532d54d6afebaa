"""The semantic locks sagas hold right now, for ``GET /api/locks``.

A lock lives in the aggregate's state (see ``sagacrew.runtime._locks``); which sagas may
hold one is in the blueprint (steps with ``lock: acquire``). For every saga that has not
ended ``completed`` or ``compensated``, each instance its acquiring steps wrote is
replayed from the store and reported when that saga still holds it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sagacrew.runtime._locks import holder
from sagacrew.runtime.api._progress import blueprint_sagas
from sagacrew.runtime.saga import SagaState
from sagacrew.runtime.system import SagaSystem

_ENDED_FREE = ("completed", "compensated")
"""Saga states in which a saga holds no lock (released by its last step or its undo)."""


@dataclass(frozen=True)
class HeldLock:
    stream_id: str
    saga_id: str
    saga_name: str
    step_name: str


def held_locks(system: SagaSystem, blueprint: Mapping[str, Any]) -> list[HeldLock]:
    """Every semantic lock held by a saga, by stream id then saga id."""
    acquiring = {
        str(saga["name"]): [
            (str(step["name"]), str(step.get("target", "")))
            for step in saga.get("steps", [])
            if step.get("lock") == "acquire"
        ]
        for saga in blueprint_sagas(blueprint)
    }
    if not any(acquiring.values()):
        return []
    aggregates = {actor.address: actor for actor in system.aggregate_prototypes()}
    states = [state.value for state in SagaState if state.value not in _ENDED_FREE]
    found = []
    for saga in system.store.list_sagas(states):
        for step_name, target in acquiring.get(saga.saga_name, []):
            actor = aggregates.get(target)
            if actor is None or actor.identity not in saga.data:
                continue
            aggregate_id = str(saga.data[actor.identity])
            state, _, _ = actor.replay(aggregate_id)
            if holder(state) == saga.correlation_id:
                found.append(
                    HeldLock(actor.stream_id(aggregate_id), saga.saga_id, saga.saga_name, step_name)
                )
    return sorted(found, key=lambda lock: (lock.stream_id, lock.saga_id))
