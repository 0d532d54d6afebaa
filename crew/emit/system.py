"""Emit a generated system: the blueprint in, a tree of files out.

``emit_files`` is pure (blueprint → ``{relative path: text}``) so the same blueprint
always gives the same bytes; ``write_files`` puts them on disk, and renders the SVG
flowcharts when Graphviz is there. Layout of ``generated/<system>/``::

    blueprint.json            the crew's whole output, as data
    taxonomy.json             the event registry; schemas/<event>.v<N>.json per payload
    flowcharts/<saga>.dot     and .mmd (Mermaid), .svg (Graphviz, when installed)
    validation/checks.sql     consistency checks; validation/fault_plan.json
    monitoring/               Prometheus alert rules (+ promtool tests), Grafana dashboards
    <system>/                 the Python package (actors, gateways, sagas, supervision,
                              events, app) that runs on sagacrew.runtime
    <system>/business_rules.py  yours: created once, never overwritten (generation gap)
    tests/                    the generated pytest suite
    generated-files.txt       what sagacrew wrote (so a later run can remove what a spec
                              change made obsolete)
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sagacrew.agents.monitoring import monitoring_files
from sagacrew.crew.blueprint import ActorSpec, Blueprint, SagaSpec, StepSpec
from sagacrew.crew.emit.render import format_python, render
from sagacrew.crew.spec.model import CommandKind, DomainSpec

SVG_SUFFIX = ".svg"
MANIFEST = "generated-files.txt"


def user_owned(system: str) -> frozenset[str]:
    """Files created once for the user to edit, never overwritten by a later ``generate``."""
    return frozenset({f"{system}/business_rules.py"})


def _json(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _data(key: str) -> str:
    return f"ctx.data[{key!r}]"


def _step_payload(step: StepSpec, actors: Mapping[str, ActorSpec]) -> str:
    actor = actors[step.target]
    if actor.kind == "gateway":
        params = next(h.params for h in actor.handlers if h.command == step.command)
        return "{" + ", ".join(f"{p!r}: {_data(p)}" for p in params) + "}"
    handler = next(h for h in actor.handlers if h.command == step.command)
    assert actor.identity is not None
    keys = [actor.identity, *handler.params]
    if handler.quantity_field:
        keys.append("amount")
    return "{" + ", ".join(f"{k!r}: {_data(k)}" for k in dict.fromkeys(keys)) + "}"


def _compensation_payload(step: StepSpec, actors: Mapping[str, ActorSpec]) -> str:
    assert step.compensation is not None
    compensation = step.compensation
    if compensation.kind == "undo":
        undo = next(
            h for h in actors[compensation.target].handlers if h.command == compensation.command
        )
        entries = [
            "'undoes': ctx.forward_key",
            "'resource_id': ctx.step_result.get('resource_id', '')",
        ]
        entries += [f"{p!r}: {_data(p)}" for p in undo.params if p != "resource_id"]
        return "{" + ", ".join(entries) + "}"
    actor = actors[compensation.target]
    assert actor.identity is not None
    # Undo by key: the actor reverses what the forward command did (before-image, delta,
    # amount from its event), and nothing when it never acted (its outcome was unknown).
    entries = [f"{actor.identity!r}: {_data(actor.identity)}", "'undoes': ctx.forward_key"]
    if not compensation.command.startswith("_"):  # a command the spec declares
        handler = next(h for h in actor.handlers if h.command == compensation.command)
        entries += [f"{p!r}: {_data(p)}" for p in handler.params]
    return "{" + ", ".join(entries) + "}"


def _dead_letter_case(saga: SagaSpec) -> dict[str, str] | None:
    """A step to fail and an earlier compensation to break, for the dead-letter test."""
    last = saga.pivot_index if saga.pivot_index is not None else len(saga.steps) - 1
    for failing in saga.steps[1 : last + 1]:
        earlier = [s for s in saga.steps[: failing.index] if s.compensation is not None]
        if earlier:
            return {"fail": failing.name, "compensate": earlier[-1].name}
    return None


def _effects(saga: SagaSpec, actors: Mapping[str, ActorSpec]) -> dict[str, int]:
    """Events and external calls one successful run of ``saga`` leaves behind."""
    events = sum(
        1
        for s in saga.steps
        if actors[s.target].kind == "aggregate" and s.kind is not CommandKind.QUERY
    )
    calls = sum(1 for s in saga.steps if actors[s.target].kind == "gateway")
    return {"events": events, "calls": calls}


def emit_files(blueprint: Blueprint, spec: DomainSpec) -> dict[str, str]:
    """Every generated file of ``blueprint`` as ``{relative path: text}``."""
    assert blueprint.actors and blueprint.sagas and blueprint.events and blueprint.validation
    system = blueprint.system
    actors = {a.name: a for a in blueprint.actors.actors}
    aggregates = [a for a in blueprint.actors.actors if a.kind == "aggregate"]
    gateways = [a for a in blueprint.actors.actors if a.kind == "gateway"]
    sagas = blueprint.sagas.sagas
    initial = {
        f"{c}.{a}": dict(agg.initial)
        for c, ctx in spec.contexts.items()
        for a, agg in ctx.aggregates.items()
    }
    undoes = {
        name: {op.undo: op_name for op_name, op in ext.operations.items() if op.undo}
        for name, ext in spec.externals.items()
    }
    context: dict[str, Any] = {
        "bp": blueprint,
        "spec_file": blueprint.spec_file,
        "aggregates": aggregates,
        "gateways": gateways,
        "sagas": sagas,
        "events": blueprint.events.events,
        "upcasters": blueprint.events.upcasters,
        "event_versions": {e.name: e.version for e in blueprint.events.events},
        "snapshots": {p.actor: p for p in blueprint.events.snapshots},
        "initial": initial,
        "undoes": undoes,
        "supervisors": {s.name: s for s in blueprint.actors.supervisors},
        "root": blueprint.actors.supervisors[0].name,
        "payloads": {
            s.name: {step.name: _step_payload(step, actors) for step in s.steps} for s in sagas
        },
        "compensations": {
            s.name: {
                step.name: _compensation_payload(step, actors)
                for step in s.steps
                if step.compensation
            }
            for s in sagas
        },
        "inputs": {s.name: s.inputs for s in sagas},
        "dead_letter_cases": {s.name: _dead_letter_case(s) for s in sagas},
        "effects": {s.name: _effects(s, actors) for s in sagas},
        "queries": blueprint.validation.queries,
        "workload": blueprint.validation.workload,
        "out_hint": f"generated/{system}",
    }
    python = {
        f"{system}/__init__.py": "package_init.py.j2",
        f"{system}/actors.py": "actors.py.j2",
        f"{system}/gateways.py": "gateways.py.j2",
        f"{system}/sagas.py": "sagas.py.j2",
        f"{system}/supervision.py": "supervision.py.j2",
        f"{system}/events.py": "events.py.j2",
        f"{system}/upcasters.py": "upcasters.py.j2",
        f"{system}/app.py": "app.py.j2",
        f"{system}/business_rules.py": "business_rules.py.j2",
        "tests/conftest.py": "conftest.py.j2",
        f"tests/test_{system}.py": "test_suite.py.j2",
    }
    files: dict[str, str] = {}
    for path, template in python.items():
        files[path] = format_python(render(template, **context), Path(path).name)
    files["blueprint.json"] = blueprint.to_json()
    files["taxonomy.json"] = _json(
        {
            "system": system,
            "events": [
                {
                    "name": e.name,
                    "version": e.version,
                    "reliability": e.reliability.value,
                    "source": e.source,
                    "schema": f"schemas/{e.name}.v{e.version}.json",
                    "description": e.description,
                }
                for e in blueprint.events.events
            ],
        }
    )
    for event in blueprint.events.events:
        files[f"schemas/{event.name}.v{event.version}.json"] = _json(event.payload_schema)
    for saga in sagas:
        files[f"flowcharts/{saga.name}.dot"] = saga.flowchart.dot
        files[f"flowcharts/{saga.name}.mmd"] = saga.flowchart.mermaid
    files["validation/checks.sql"] = render("checks.sql.j2", **context)
    files["validation/fault_plan.json"] = _json(
        {
            "workload": blueprint.validation.workload.model_dump(mode="json"),
            "faults": [f.model_dump(mode="json") for f in blueprint.validation.faults],
        }
    )
    files["README.md"] = render("readme.md.j2", **context)
    for relative, text in monitoring_files(blueprint).items():
        files[f"monitoring/{relative}"] = text
    owned = user_owned(system)
    files[MANIFEST] = "".join(f"{path}\n" for path in sorted(files) if path not in owned)
    return dict(sorted(files.items()))


def write_files(
    files: Mapping[str, str], out_dir: Path, *, keep: frozenset[str] = frozenset()
) -> list[str]:
    """Write ``files`` under ``out_dir`` and render each DOT flowchart to SVG.

    Files whose content is unchanged are not rewritten (nor their SVGs re-rendered);
    files in ``keep`` (the user's) are only created when absent; files an earlier run
    wrote (its manifest) that this run no longer produces are removed. Returns notes for
    the user (e.g. how to get Graphviz).
    """
    from sagacrew.agents.flowchart import render_svg

    notes: list[str] = []
    manifest = out_dir / MANIFEST
    if manifest.is_file():
        for relative in manifest.read_text("utf-8").split():
            if relative not in files and relative not in keep:
                stale = out_dir / relative
                stale.unlink(missing_ok=True)
                if stale.suffix == ".dot":
                    stale.with_suffix(SVG_SUFFIX).unlink(missing_ok=True)
    changed: list[str] = []
    for relative, text in files.items():
        path = out_dir / relative
        if relative in keep and path.exists():
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text("utf-8") != text:
            path.write_text(text, "utf-8")
            changed.append(relative)
    for relative, text in files.items():
        svg = out_dir / relative.replace(".dot", SVG_SUFFIX)
        if relative.endswith(".dot") and (relative in changed or not svg.exists()):
            hint = render_svg(text, svg)
            if hint and hint not in notes:
                notes.append(hint)
    return notes
