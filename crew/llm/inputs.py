"""The crew's inputs: the spec and the deterministic parts, as compact JSON strings.

Each task gets only what it may refine, plus enough context to write good text: no
flowcharts, payload schemas or handler internals (they cannot be proposed and would only
make the prompts longer). Keys are sorted, so the same blueprint gives the same prompts.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from sagacrew.agents.blueprint import Blueprint
from sagacrew.agents.spec import DomainSpec


def _json(data: Any) -> str:
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def crew_inputs(
    spec: DomainSpec, blueprint: Blueprint, tables: Mapping[str, Sequence[str]]
) -> dict[str, str]:
    """``{system, spec, actors, sagas, events, validation, tables}`` for the task prompts."""
    assert blueprint.actors and blueprint.sagas and blueprint.events and blueprint.validation
    actors = {
        "actors": [
            {
                "name": a.name,
                "kind": a.kind,
                "description": a.description,
                "commands": [h.command for h in a.handlers],
            }
            for a in blueprint.actors.actors
        ],
        "supervisors": [
            s.model_dump(mode="json", exclude={"children"})
            | {"children": [c.name for c in s.children]}
            for s in blueprint.actors.supervisors
        ],
    }
    sagas = [
        {
            "name": saga.name,
            "description": saga.description,
            "trigger": saga.trigger,
            "pivot": saga.steps[saga.pivot_index].name if saga.pivot_index is not None else None,
            "steps": [
                {
                    "name": f"{saga.name}.{step.name}",
                    "invoke": step.invoke,
                    "pivot": step.pivot,
                    "retriable": step.retriable,
                    "compensation": step.compensation.description if step.compensation else None,
                    "completion_event": step.completion_event,
                    "description": step.description,
                }
                for step in saga.steps
            ],
        }
        for saga in blueprint.sagas.sagas
    ]
    events = [
        event.model_dump(mode="json", exclude={"payload_schema", "class_name"})
        for event in blueprint.events.events
    ]
    validation = {
        "checks": [q.model_dump(mode="json") for q in blueprint.validation.queries],
        "fault_scenarios": [f.model_dump(mode="json") for f in blueprint.validation.faults],
    }
    return {
        "system": spec.system,
        "spec": _json(spec.model_dump(mode="json", exclude_none=True)),
        "actors": _json(actors),
        "sagas": _json(sagas),
        "events": _json(events),
        "validation": _json(validation),
        "tables": _json({name: list(columns) for name, columns in tables.items()}),
    }
