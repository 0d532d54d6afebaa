"""The crew as a crewAI Flow: one step per agent, typed state, no LLM.

crewAI is imported here only (it is heavy: ~1 GB, ~3 s to import); telemetry is switched
off before the import. The Flow's steps are the plain functions of ``pipeline.py``, so the
Flow and ``pipeline.design`` give the same blueprint. ``generate`` runs the Flow only when
asked (``--flow``) or when crewAI is loaded anyway (``--llm``): it adds no output of its
own, and its import alone is most of a plain ``generate``'s time.
"""

from __future__ import annotations

import os

os.environ.setdefault("CREWAI_DISABLE_TELEMETRY", "true")
os.environ.setdefault("OTEL_SDK_DISABLED", "true")
os.environ.setdefault("CREWAI_TRACING_ENABLED", "false")

from crewai.flow.flow import Flow, listen, start
from pydantic import BaseModel

from sagacrew.agents.blueprint import Blueprint
from sagacrew.agents.spec import DomainSpec
from sagacrew.crew import pipeline


class CrewState(BaseModel):
    """The Flow's typed state: the spec and the blueprint built so far."""

    spec: DomainSpec | None = None
    spec_file: str = ""
    blueprint: Blueprint | None = None


class SagaCrewFlow(Flow[CrewState]):
    """Actor Architect → Saga Orchestrator → Event Sourcing Specialist → Consistency Validator."""

    _skip_auto_memory: bool = True
    """No crewAI memory: the steps recall nothing, and a ``Memory`` would load LanceDB
    (~2.5 s) and open a store on disk (crewAI's own internal flows opt out the same way)."""

    def _advance(self, step: pipeline.Step) -> None:
        assert self.state.spec is not None and self.state.blueprint is not None
        self.state.blueprint = step(self.state.spec, self.state.blueprint)

    @start()
    def actor_architect(self) -> None:
        assert self.state.spec is not None
        self.state.blueprint = pipeline.new_blueprint(self.state.spec, self.state.spec_file)
        self._advance(pipeline.architect)

    @listen(actor_architect)
    def saga_orchestrator(self) -> None:
        self._advance(pipeline.orchestrate)

    @listen(saga_orchestrator)
    def event_sourcing_specialist(self) -> None:
        self._advance(pipeline.source_events)

    @listen(event_sourcing_specialist)
    def consistency_validator(self) -> None:
        self._advance(pipeline.plan_validation)


def run_flow(spec: DomainSpec, spec_file: str) -> Blueprint:
    """Run the crew as a crewAI Flow and return the finished blueprint."""
    flow = SagaCrewFlow(suppress_flow_events=True)
    flow.kickoff(inputs={"spec": spec, "spec_file": spec_file})
    blueprint: Blueprint | None = flow.state.blueprint
    assert blueprint is not None
    return blueprint
