"""The four agents of the crew, deterministic: each turns the spec (and the blueprint so
far) into its typed part of the blueprint. No LLM is needed or called here."""

from sagacrew.agents.architect import ActorArchitect
from sagacrew.agents.event_sourcing import EventSourcingSpecialist
from sagacrew.agents.saga_orchestrator import SagaOrchestratorAgent
from sagacrew.agents.validator.planner import ConsistencyValidatorPlanner

__all__ = [
    "ActorArchitect",
    "ConsistencyValidatorPlanner",
    "EventSourcingSpecialist",
    "SagaOrchestratorAgent",
]
