"""Emit a generated system: the blueprint in, a tree of files out.

``emit_files`` is pure (blueprint → ``{relative path: text}``) so the same blueprint
always gives the same bytes, and it reads nothing but the blueprint: every decision (a
payload, an initial state, a test case) is an agent's, recorded there, and only rendered
here. ``write_files`` puts the files on disk, and renders the SVG flowcharts when
Graphviz is there. Layout of ``generated/<system>/``::

    blueprint.json            the crew's whole output, as data
    taxonomy.json             the event registry; schemas/<event>.v<N>.json per payload
    flowcharts/<saga>.dot     and .mmd (Mermaid), .svg (Graphviz, when installed)
    validation/checks.sql     consistency checks; validation/fault_plan.json
    monitoring/               Prometheus alert rules (+ promtool tests), Grafana dashboards
    <system>/                 the Python package (actors, gateways, sagas, supervision,
                              app) that runs on sagacrew.runtime
    <system>/earlier_sagas.py   the saga versions a spec change superseded, kept read-only
                              for the sagas in flight (only when there are some)
    <system>/business_rules.py  yours: created once, never overwritten (generation gap)
    tests/                    the generated pytest suite
    generated-files.txt       what sagacrew wrote (so a later run can remove what a spec
                              change made obsolete)
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sagacrew.agents.blueprint import Blueprint, SagaSpec, SagaTestPlan
from sagacrew.agents.monitoring import monitoring_files
from sagacrew.agents.versions import earlier_name
from sagacrew.crew.emit.render import EmitError, format_python_files, render
from sagacrew.crew.emit.steps import OLD_BLUEPRINT, step_action, step_compensation
from sagacrew.runtime import AggregateActor, ChildPlan

SVG_SUFFIX = ".svg"
MANIFEST = "generated-files.txt"


def user_owned(system: str) -> frozenset[str]:
    """Files created once for the user to edit, never overwritten by a later ``generate``."""
    return frozenset({f"{system}/business_rules.py"})


def _json(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _runtime_names(sagas: list[Any]) -> str:
    """What sagas.py imports from the runtime, sorted."""
    names = {"RetryPolicy", "SagaDefinition", "SagaStep", "Send"}
    for saga in sagas:
        for step in saga.steps:
            if step.compensation:
                names.add("Undo")
            if step.for_each:
                names.add("ForEach")
            entries = [
                *(step.payload or []),
                *(step.compensation.payload or [] if step.compensation else []),
            ]
            if step.for_each:
                entries.append(step.for_each)
            names.update(
                {"step_field": "FromStep", "item": "Item"}[e.source]
                for e in entries
                if e.source in ("step_field", "item")
            )
    return ", ".join(sorted(names))


def _retry_key(policy: Any) -> tuple[Any, ...]:
    return tuple(policy.model_dump().values())


def _usual_step(saga: Any) -> tuple[float, tuple[Any, ...]]:
    """The timeout and retry policy most of the saga's steps have (the first step's on a
    tie): the saga's defaults, so only steps that differ state their own."""
    pairs = [(step.timeout_s, _retry_key(step.retry)) for step in saga.steps]
    return max(pairs, key=pairs.count)


def _retry_names(sagas: list[Any]) -> tuple[dict[tuple[Any, ...], str], list[tuple[str, Any]]]:
    """One constant per distinct retry policy, named by its first use (``COMPENSATION_RETRY``,
    ``STEP_RETRY``, then ``STEP_RETRY_2``...), in order of first use."""
    names: dict[tuple[Any, ...], str] = {}
    ordered: list[tuple[str, Any]] = []
    for saga in sagas:
        uses = [("COMPENSATION_RETRY", saga.compensation_retry)]
        uses += [("STEP_RETRY", step.retry) for step in saga.steps]
        for base, policy in uses:
            key = _retry_key(policy)
            if key in names:
                continue
            taken = {name for name, _ in ordered}
            name, n = base, 1
            while name in taken:
                n += 1
                name = f"{base}_{n}"
            names[key] = name
            ordered.append((name, policy))
    return names, ordered


Definition = tuple[str, SagaSpec, str]
"""What ``saga_definitions.j2`` renders: (constant, saga, origin comment)."""


def _definitions(definitions: list[Definition]) -> dict[str, Any]:
    """The template context of a module of saga definitions: the definitions, each step's
    ``Send`` and ``Undo`` and the usual step policy (by constant), the retry constants and
    what to import from the runtime."""
    specs = [saga for _, saga, _ in definitions]
    retry_names, retry_policies = _retry_names(specs)
    return {
        "definitions": definitions,
        "sends": {
            const: {step.name: step_action(s.name, step) for step in s.steps}
            for const, s, _ in definitions
        },
        "undos": {
            const: {
                step.name: step_compensation(s.name, step) for step in s.steps if step.compensation
            }
            for const, s, _ in definitions
        },
        "usual_step": {const: _usual_step(s) for const, s, _ in definitions},
        "runtime_names": _runtime_names(specs),
        "retry_names": retry_names,
        "retry_policies": retry_policies,
    }


def _earlier(blueprint: Blueprint) -> list[Definition]:
    """The earlier versions a blueprint keeps, each with where it came from."""
    assert blueprint.sagas
    return [
        (
            earlier_name(e.saga),
            e.saga,
            f"Version {e.saga.version}, from {e.spec_file} (spec {e.spec_fingerprint}); "
            f"superseded by spec {e.superseded_by}.",
        )
        for e in blueprint.sagas.earlier
    ]


def _saga_tests(blueprint: Blueprint) -> dict[str, SagaTestPlan]:
    assert blueprint.sagas and blueprint.validation
    plans = {plan.saga: plan for plan in blueprint.validation.saga_tests}
    for saga in blueprint.sagas.sagas:
        if saga.name not in plans:
            raise EmitError(f"saga {saga.name}: its test plan is missing: {OLD_BLUEPRINT}")
    return plans


def emit_files(blueprint: Blueprint) -> dict[str, str]:
    """Every generated file of ``blueprint`` as ``{relative path: text}``: the blueprint
    alone decides everything (no spec is read here)."""
    if not (blueprint.actors and blueprint.sagas and blueprint.events and blueprint.validation):
        raise EmitError("the blueprint is unfinished: run all four agents (`sagacrew generate`)")
    system = blueprint.system
    aggregates = [a for a in blueprint.actors.actors if a.kind == "aggregate"]
    gateways = [a for a in blueprint.actors.actors if a.kind == "gateway"]
    sagas = blueprint.sagas.sagas
    tests = _saga_tests(blueprint)
    context: dict[str, Any] = {
        "bp": blueprint,
        "spec_file": blueprint.spec_file,
        "aggregates": aggregates,
        "gateways": gateways,
        "sagas": sagas,
        "events": blueprint.events.events,
        "upcasters": blueprint.events.upcasters,
        "default_snapshot_every": AggregateActor.snapshot_every,
        "child_default": ChildPlan("default"),
        "event_versions": {e.name: e.version for e in blueprint.events.events},
        "snapshots": {p.actor: p for p in blueprint.events.snapshots},
        "initial": {a.name: a.initial for a in aggregates},
        "has_initial": any(a.initial for a in aggregates),
        "has_invariants": any(a.invariants for a in aggregates),
        "undoes": {g.name: {h.command: h.undoes for h in g.handlers} for g in gateways},
        "supervisors": {s.name: s for s in blueprint.actors.supervisors},
        "root": blueprint.actors.supervisors[0].name,
        **_definitions([(s.name.upper(), s, "") for s in sagas]),
        "earlier": blueprint.sagas.earlier,
        "retry_key": _retry_key,
        "inputs": {s.name: s.inputs for s in sagas},
        "dead_letter_cases": {s.name: tests[s.name].dead_letter for s in sagas},
        "any_dead_letter": any(tests[s.name].dead_letter for s in sagas),
        "any_retried": any(step.retriable for s in sagas for step in s.steps),
        "effects": {s.name: tests[s.name].effects for s in sagas},
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
        f"{system}/app.py": "app.py.j2",
        f"{system}/business_rules.py": "business_rules.py.j2",
        f"{system}/__main__.py": "main.py.j2",
        "tests/conftest.py": "conftest.py.j2",
        f"tests/test_{system}.py": "test_suite.py.j2",
    }
    if blueprint.events.upcasters:
        python[f"{system}/upcasters.py"] = "upcasters.py.j2"
    sources = {path: render(t, **context) for path, t in python.items()}
    if blueprint.sagas.earlier:
        sources[f"{system}/earlier_sagas.py"] = render(
            "earlier_sagas.py.j2", **{**context, **_definitions(_earlier(blueprint))}
        )
    files = format_python_files(sources)
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
    files["pyproject.toml"] = render("pyproject.toml.j2", **context)
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
    from sagacrew.agents.flowchart import render_svgs

    notes: list[str] = []
    manifest = out_dir / MANIFEST
    if manifest.is_file():
        for relative in manifest.read_text("utf-8").split():
            if relative not in files and relative not in keep:
                stale = out_dir / relative
                stale.unlink(missing_ok=True)
                if stale.suffix == ".dot":
                    stale.with_suffix(SVG_SUFFIX).unlink(missing_ok=True)
    changed: set[str] = set()
    for relative, text in files.items():
        path = out_dir / relative
        if relative in keep and path.exists():
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text("utf-8") != text:
            path.write_text(text, "utf-8")
            changed.add(relative)
    svgs = {r: out_dir / r.replace(".dot", SVG_SUFFIX) for r in files if r.endswith(".dot")}
    charts = {svg: files[r] for r, svg in svgs.items() if r in changed or not svg.exists()}
    # One Graphviz process per CPU, each rendering its share of the charts.
    workers = max(1, min(os.cpu_count() or 1, len(charts)))
    shares = [dict(list(charts.items())[n::workers]) for n in range(workers)]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for hint in pool.map(render_svgs, shares):
            if hint and hint not in notes:
                notes.append(hint)
    return notes
