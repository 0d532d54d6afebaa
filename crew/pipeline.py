"""The crew's work as plain functions of typed data: spec → blueprint → files.

Each agent reads the spec and the blueprint so far and returns its part; ``design`` runs
them in the design's order. ``crew/flow.py`` runs the very same steps as a crewAI Flow
(``generate(..., use_flow=True)``; the CLI's ``--flow``, and its default with ``--llm``).
The files are a function of the blueprint alone: ``regenerate`` writes them again from a
``blueprint.json``, byte for byte, without the spec.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from sagacrew.agents import (
    ActorArchitect,
    ConsistencyValidatorPlanner,
    EventSourcingSpecialist,
    SagaOrchestratorAgent,
)
from sagacrew.agents.blueprint import Blueprint
from sagacrew.agents.changes import Change, classify_changes
from sagacrew.agents.spec import DomainSpec, SpecErrors, Violation, load_spec
from sagacrew.agents.spec.loader import locate_violations
from sagacrew.agents.versions import keep_earlier, with_versions
from sagacrew.crew.emit import EmitError, emit_files, user_owned, write_files

if TYPE_CHECKING:
    from sagacrew.crew.llm import LlmSettings


def new_blueprint(spec: DomainSpec, spec_file: str) -> Blueprint:
    """An empty blueprint for ``spec``: the crew's starting state."""
    return Blueprint(system=spec.system, title=spec.title, spec_file=Path(spec_file).name)


def architect(spec: DomainSpec, blueprint: Blueprint) -> Blueprint:
    return blueprint.model_copy(update={"actors": ActorArchitect().contribute(spec, blueprint)})


def orchestrate(spec: DomainSpec, blueprint: Blueprint) -> Blueprint:
    return blueprint.model_copy(
        update={"sagas": SagaOrchestratorAgent().contribute(spec, blueprint)}
    )


def source_events(spec: DomainSpec, blueprint: Blueprint) -> Blueprint:
    return blueprint.model_copy(
        update={"events": EventSourcingSpecialist().contribute(spec, blueprint)}
    )


def plan_validation(spec: DomainSpec, blueprint: Blueprint) -> Blueprint:
    return blueprint.model_copy(
        update={"validation": ConsistencyValidatorPlanner().contribute(spec, blueprint)}
    )


Step = Callable[[DomainSpec, Blueprint], Blueprint]

STEPS: tuple[Step, ...] = (architect, orchestrate, source_events, plan_validation)
"""The four agents, in the order each needs the parts before it."""


def design(spec: DomainSpec, spec_file: str) -> Blueprint:
    """Run the four agents in order, without crewAI."""
    blueprint = new_blueprint(spec, spec_file)
    for step in STEPS:
        blueprint = step(spec, blueprint)
    return blueprint


@dataclass(frozen=True)
class Generated:
    """What ``generate`` produced: where, which files, and notes for the user."""

    out_dir: Path
    blueprint: Blueprint
    files: dict[str, str]
    notes: list[str]
    accepted: list[str] = field(default_factory=list)
    """LLM proposals merged into the blueprint (``--llm`` only)."""
    rejected: list[str] = field(default_factory=list)
    """LLM proposals refused, each with its reason (``--llm`` only)."""
    changes: list[Change] = field(default_factory=list)
    """What changed since the blueprint an earlier ``generate`` wrote in ``out_dir``, each
    classified (``agents/changes.py``); empty without one."""


def generate(
    spec_path: Path, out_dir: Path, *, use_flow: bool = False, llm: LlmSettings | None = None
) -> Generated:
    """Load and validate the spec at ``spec_path``, then :func:`generate_from_spec`.

    Nothing is written when the spec is invalid (``SpecErrors`` is raised first).
    """
    return generate_from_spec(load_spec(spec_path), spec_path, out_dir, use_flow=use_flow, llm=llm)


def generate_from_spec(
    spec: DomainSpec,
    spec_path: Path,
    out_dir: Path,
    *,
    use_flow: bool = False,
    llm: LlmSettings | None = None,
) -> Generated:
    """Run the crew on the loaded ``spec`` and write the system under ``out_dir``.

    ``use_flow`` runs the four agents as a crewAI Flow (``crew/flow.py``, which imports
    crewAI, ~3 s) instead of in a plain loop (:func:`design`): the same steps, the same
    blueprint, byte for byte. With ``llm``, an OpenAI-compatible model may propose
    refinements of the deterministic blueprint; each passes the same validation as the
    crew's own output or is rejected.
    """
    if use_flow:
        from sagacrew.crew.flow import run_flow

        blueprint = run_flow(spec, str(spec_path))
    else:
        blueprint = design(spec, str(spec_path))
    accepted: list[str] = []
    rejected: list[str] = []
    if llm is not None:
        from sagacrew.crew.llm import refine_with_llm

        refinement = refine_with_llm(spec, blueprint, llm)
        blueprint, accepted, rejected = (
            refinement.blueprint,
            refinement.accepted,
            refinement.rejected,
        )
    blueprint, changes = evolve(_previous(out_dir), with_versions(blueprint), spec_path)
    return replace(_write(blueprint, out_dir, accepted, rejected), changes=changes)


def _previous(out_dir: Path) -> Blueprint | None:
    """The blueprint an earlier ``generate`` wrote in ``out_dir``, if any."""
    return read_blueprint(out_dir) if (out_dir / "blueprint.json").is_file() else None


def evolve(
    previous: Blueprint | None, blueprint: Blueprint, spec_path: Path
) -> tuple[Blueprint, list[Change]]:
    """``blueprint`` with the earlier saga versions of ``previous`` it keeps, and the changes
    from ``previous``, classified. Raises ``SpecErrors`` (each unsafe change at its place in
    the spec at ``spec_path``, with its fix) when a change is unsafe: nothing is written."""
    if previous is None or previous.system != blueprint.system:
        return blueprint, []
    blueprint = keep_earlier(previous, blueprint)
    changes = classify_changes(previous, blueprint)
    unsafe = [c for c in changes if c.kind == "unsafe"]
    if unsafe:
        violations = [Violation(c.path, f"unsafe change: {c.message}", c.fix) for c in unsafe]
        raise SpecErrors(locate_violations(spec_path, violations))
    return blueprint, changes


def read_blueprint(path: Path) -> Blueprint:
    """The blueprint in the ``blueprint.json`` at ``path`` (or in the folder ``path``)."""
    if path.is_dir():
        path = path / "blueprint.json"
    try:
        return Blueprint.model_validate_json(path.read_bytes())
    except ValidationError as error:
        problem = error.errors()[0]
        where = ".".join(str(part) for part in problem["loc"]) or "top level"
        raise EmitError(
            f"{path}: not a sagacrew blueprint ({error.error_count()} problem(s); first at "
            f"{where}: {problem['msg']})"
        ) from None


def regenerate(blueprint_path: Path, out_dir: Path) -> Generated:
    """Write the system of a ``blueprint.json`` under ``out_dir``, without its spec: the
    same files, byte for byte, as the ``generate`` that wrote the blueprint."""
    return _write(read_blueprint(blueprint_path), out_dir, [], [])


def write_blueprint(blueprint: Blueprint, out_dir: Path) -> Generated:
    """Write the system of ``blueprint`` under ``out_dir`` (e.g. after a version was
    dropped from it): what :func:`regenerate` writes for its ``blueprint.json``."""
    return _write(blueprint, out_dir, [], [])


def _write(
    blueprint: Blueprint, out_dir: Path, accepted: list[str], rejected: list[str]
) -> Generated:
    blueprint = with_versions(blueprint)
    files = emit_files(blueprint)
    notes = write_files(files, out_dir, keep=user_owned(blueprint.system))
    return Generated(out_dir, blueprint, files, notes, accepted, rejected)
