"""The LLM crew: four crewAI Agents and Tasks from ``prompts/``, wired by ``@CrewBase``.

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

from crewai import LLM, Agent, Crew, CrewOutput, Process, Task
from crewai.project import CrewBase, agent, crew, task
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


@CrewBase
class SagaDesignCrew:
    """Actor Architect → Saga Orchestrator → Event Sourcing Specialist → Consistency
    Validator, each proposing refinements of its deterministic part (sequential process)."""

    agents_config = str(PROMPTS_DIR / "agents.yaml")
    tasks_config = str(PROMPTS_DIR / "tasks.yaml")
    agents: list[Any]
    tasks: list[Task]

    def __init__(self, settings: LlmSettings) -> None:
        for name in ("agents.yaml", "tasks.yaml"):
            if not (PROMPTS_DIR / name).is_file():
                raise PromptsMissingError(
                    f"{PROMPTS_DIR / name} is missing: reinstall sagacrew "
                    "(pip install -e . from a checkout ships prompts/)"
                )
        self.settings = settings
        self.llm = build_llm(settings)

    def _config(self, kind: str, name: str) -> dict[str, Any]:
        """The YAML entry ``name`` of ``agents.yaml`` or ``tasks.yaml`` (loaded by @CrewBase)."""
        configs = cast(dict[str, dict[str, Any]], getattr(self, f"{kind}_config"))
        return configs[name]

    def _agent(self, name: str) -> Agent:
        return Agent(
            config=self._config("agents", name),
            llm=self.llm,
            allow_delegation=False,
            verbose=False,
            cache=False,
            max_iter=3,
            max_retry_limit=self.settings.max_retries,
        )

    def _task(self, name: str, output: type[BaseModel]) -> Task:
        config = self._config("tasks", name)
        return Task(
            description=config["description"],
            expected_output=config["expected_output"],
            agent=config["agent"],
            output_pydantic=output,
        )

    @agent
    def actor_architect(self) -> Agent:
        return self._agent("actor_architect")

    @agent
    def saga_orchestrator(self) -> Agent:
        return self._agent("saga_orchestrator")

    @agent
    def event_sourcing_specialist(self) -> Agent:
        return self._agent("event_sourcing_specialist")

    @agent
    def consistency_validator(self) -> Agent:
        return self._agent("consistency_validator")

    @task
    def design_actors(self) -> Task:
        return self._task("design_actors", ActorProposal)

    @task
    def design_sagas(self) -> Task:
        return self._task("design_sagas", SagaProposal)

    @task
    def design_events(self) -> Task:
        return self._task("design_events", EventProposal)

    @task
    def plan_validation(self) -> Task:
        return self._task("plan_validation", ValidationProposal)

    @crew
    def crew(self) -> Crew:
        return Crew(
            agents=self.agents,
            tasks=self.tasks,
            process=Process.sequential,
            verbose=False,
            cache=False,
        )


def kickoff(settings: LlmSettings, inputs: dict[str, str]) -> list[Any]:
    """Run the crew once; each task's structured output (``None`` when it has none), in
    task order. Exceptions from crewAI or the HTTP client propagate."""
    result = SagaDesignCrew(settings).crew().kickoff(inputs=inputs)
    if not isinstance(result, CrewOutput):
        raise LlmError(f"the crew gave a {type(result).__name__}, not a CrewOutput")
    return [output.pydantic for output in result.tasks_output]
