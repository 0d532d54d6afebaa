"""The LLM crew: four crewAI Agents and Tasks from ``prompts/``, in a sequential Crew.

crewAI is imported here only (it is heavy, ~3 s), after switching its telemetry and
tracing off; ``refine_with_llm`` imports this module lazily, so ``sagacrew --help`` and the
runtime never load crewAI. crewAI's task-output store goes to its data directory under the
name ``sagacrew`` (``CREWAI_STORAGE_DIR``) unless that variable is already set, and its
per-request warning about estimated token counts (for models it does not know) is silenced.

The prompts are ``prompts/agents.yaml`` and ``prompts/tasks.yaml``, found two levels above
this module (``PROMPTS_DIR``): in a source checkout or editable install that is the
repository's ``prompts/`` folder; a wheel ships the same files as ``sagacrew/prompts/``
(package data of ``sagacrew.crew.llm`` in ``pyproject.toml``), at the same relative place.
"""

from __future__ import annotations

import os

os.environ.setdefault("CREWAI_DISABLE_TELEMETRY", "true")
os.environ.setdefault("OTEL_SDK_DISABLED", "true")
os.environ.setdefault("CREWAI_TRACING_ENABLED", "false")
os.environ.setdefault("CREWAI_STORAGE_DIR", "sagacrew")

import logging
from pathlib import Path
from typing import Any, cast

import yaml
from crewai import LLM, Agent, Crew, CrewOutput, Process, Task
from pydantic import BaseModel

from sagacrew.crew.llm.errors import LlmError, PromptsMissingError
from sagacrew.crew.llm.proposals import (
    ActorProposal,
    EventProposal,
    SagaProposal,
    ValidationProposal,
)
from sagacrew.crew.llm.settings import LlmSettings

logging.getLogger("crewai.llms.base_llm").setLevel(logging.ERROR)
"""Silences crewAI's per-call warning that it estimates token counts for custom models."""

PROMPTS_DIR = Path(__file__).resolve().parents[2] / "prompts"
"""``prompts/`` of the checkout, or ``sagacrew/prompts/`` of an installed wheel."""


def build_llm(settings: LlmSettings) -> LLM:
    """crewAI's native OpenAI client pointed at ``settings.base_url`` (chat completions).

    ``custom_openai=True`` makes crewAI use its OpenAI provider for any model name on a
    custom endpoint (no LiteLLM, no model-name guessing).
    """
    return LLM(
        model=settings.model,
        base_url=settings.base_url,
        api_key=settings.api_key,
        custom_openai=True,
        timeout=settings.timeout_s,
        max_retries=settings.max_retries,
    )


AGENTS = (
    "actor_architect",
    "saga_orchestrator",
    "event_sourcing_specialist",
    "consistency_validator",
)
"""The crew's agents, entries of ``prompts/agents.yaml``, in the order they work."""

TASKS: tuple[tuple[str, type[BaseModel]], ...] = (
    ("design_actors", ActorProposal),
    ("design_sagas", SagaProposal),
    ("design_events", EventProposal),
    ("plan_validation", ValidationProposal),
)
"""Each task of ``prompts/tasks.yaml``, in order, with the proposal its output must be."""


def _prompts(name: str) -> dict[str, dict[str, Any]]:
    """The entries of ``prompts/<name>``; :class:`PromptsMissingError` if it is not there."""
    path = PROMPTS_DIR / name
    if not path.is_file():
        raise PromptsMissingError(
            f"{path} is missing: reinstall sagacrew "
            "(pip install -e . from a checkout ships prompts/)"
        )
    return cast(dict[str, dict[str, Any]], yaml.safe_load(path.read_text(encoding="utf-8")))


def design_crew(settings: LlmSettings) -> Crew:
    """Actor Architect → Saga Orchestrator → Event Sourcing Specialist → Consistency
    Validator, each proposing refinements of its deterministic part (sequential process):
    an Agent per entry of :data:`AGENTS`, a Task per entry of :data:`TASKS`, done by the
    agent its ``tasks.yaml`` entry names."""
    agents_config, tasks_config = _prompts("agents.yaml"), _prompts("tasks.yaml")
    llm = build_llm(settings)
    agents = {
        name: Agent(
            config=agents_config[name],
            llm=llm,
            allow_delegation=False,
            verbose=False,
            cache=False,
            max_iter=3,
            max_retry_limit=settings.max_retries,
        )
        for name in AGENTS
    }
    tasks = [
        Task(
            description=tasks_config[name]["description"],
            expected_output=tasks_config[name]["expected_output"],
            agent=agents[tasks_config[name]["agent"]],
            output_pydantic=output,
        )
        for name, output in TASKS
    ]
    return Crew(
        name="SagaDesignCrew",
        agents=list(agents.values()),
        tasks=tasks,
        process=Process.sequential,
        verbose=False,
        cache=False,
    )


def kickoff(settings: LlmSettings, inputs: dict[str, str]) -> list[Any]:
    """Run the crew once; each task's structured output (``None`` when it has none), in
    task order. Exceptions from crewAI or the HTTP client propagate."""
    result = design_crew(settings).kickoff(inputs=inputs)
    if not isinstance(result, CrewOutput):
        raise LlmError(f"the crew gave a {type(result).__name__}, not a CrewOutput")
    return [output.pydantic for output in result.tasks_output]
