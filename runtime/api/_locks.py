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
from sagacrew.runtime.store import SagaExecution
from sagacrew.runtime.system import SagaSystem

_ENDED_FREE = ("completed", "compensated")
"""Saga states in which a saga holds no lock (released by its last step or its undo)."""


@dataclass(frozen=True)
class HeldLock:
    stream_id: str
    saga_id: str
    saga_name: str
    step_name: str
    aggregate: str
    """The aggregate type's address (the stream id without the instance's id)."""


def held_locks(system: SagaSystem, blueprint: Mapping[str, Any]) -> list[HeldLock]:
    """Every semantic lock held by a saga, by stream id then saga id."""
    acquiring = _acquiring(blueprint)
    if not any(acquiring.values()):
        return []
    states = [state.value for state in SagaState if state.value not in _ENDED_FREE]
    found = [
        lock
        for saga in system.store.list_sagas(states)
        for lock in _held_by(system, acquiring, saga)
    ]
    return sorted(found, key=lambda lock: (lock.stream_id, lock.saga_id))


def saga_locks(
    system: SagaSystem, blueprint: Mapping[str, Any], saga: SagaExecution
) -> list[HeldLock]:
    """The semantic locks ``saga`` holds now, by stream id (none once it ended
    ``completed`` or ``compensated``)."""
    if saga.state in _ENDED_FREE:
        return []
    found = _held_by(system, _acquiring(blueprint), saga)
    return sorted(found, key=lambda lock: lock.stream_id)


def _acquiring(blueprint: Mapping[str, Any]) -> dict[str, list[tuple[str, str]]]:
    """Saga type → its ``(step, target)`` pairs with ``lock: acquire``."""
    return {
        str(saga["name"]): [
            (str(step["name"]), str(step.get("target", "")))
            for step in saga.get("steps", [])
            if step.get("lock") == "acquire"
        ]
        for saga in blueprint_sagas(blueprint)
    }


def _held_by(
    system: SagaSystem, acquiring: Mapping[str, list[tuple[str, str]]], saga: SagaExecution
) -> list[HeldLock]:
    steps = acquiring.get(saga.saga_name, [])
    if not steps:
        return []
    aggregates = {actor.address: actor for actor in system.aggregate_prototypes()}
    found = []
    for step_name, target in steps:
        actor = aggregates.get(target)
        if actor is None or actor.identity not in saga.data:
            continue
        aggregate_id = str(saga.data[actor.identity])
        state, _, _ = actor.replay(aggregate_id)
        if holder(state) == saga.correlation_id:
            found.append(
                HeldLock(
                    actor.stream_id(aggregate_id), saga.saga_id, saga.saga_name, step_name, target
                )
            )
    return found
