"""The crew's work as plain functions of typed data: spec → blueprint → files.

Each agent reads the spec and the blueprint so far and returns its part; ``design`` runs
them in the design's order. ``crew/flow.py`` runs the very same steps as a crewAI Flow
(``generate(..., use_flow=True)``; the CLI's ``--flow``, and its default with ``--llm``).
The files are a function of the blueprint alone: ``regenerate`` writes them again from a
``blueprint.json``, byte for byte, without the spec.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
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
from sagacrew.agents.spec import DomainSpec, load_spec
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
    return _write(blueprint, out_dir, accepted, rejected)


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


def _write(
    blueprint: Blueprint, out_dir: Path, accepted: list[str], rejected: list[str]
) -> Generated:
    files = emit_files(blueprint)
    notes = write_files(files, out_dir, keep=user_owned(blueprint.system))
    return Generated(out_dir, blueprint, files, notes, accepted, rejected)
