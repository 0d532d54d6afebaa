"""The optional LLM layer: a crewAI crew proposes refinements, validation decides.

``llm_settings(base_url, model, api_key)`` reads the flags or the environment and raises
``LlmConfigError`` (one line: what to set) before anything else happens.
``refine_with_llm(spec, blueprint, settings)`` runs four crewAI Agents and Tasks (prompts
in ``prompts/agents.yaml`` and ``prompts/tasks.yaml``, in one sequential Crew) against an
OpenAI-compatible endpoint and returns a ``Refinement``: the merged blueprint, and what
was accepted and rejected, item by item, with reasons.

The LLM may propose only: descriptions (actors, sagas, steps, events), supervision limits
and rationales, extra read-only SQL checks, extra fault scenarios (see ``proposals``).
Importing this package does not import crewAI; ``refine_with_llm`` does, on first call.
"""

from sagacrew.crew.llm.errors import LlmConfigError, LlmError
from sagacrew.crew.llm.proposals import (
    ActorProposal,
    EventProposal,
    FaultProposal,
    InvariantCheck,
    NamedText,
    SagaProposal,
    SupervisionTweak,
    ValidationProposal,
)
from sagacrew.crew.llm.refine import Refinement, merge_reviewed, refine_with_llm
from sagacrew.crew.llm.settings import LlmSettings, llm_settings
from sagacrew.crew.llm.text import text_problem

__all__ = [
    "ActorProposal",
    "EventProposal",
    "FaultProposal",
    "InvariantCheck",
    "LlmConfigError",
    "LlmError",
    "LlmSettings",
    "NamedText",
    "Refinement",
    "SagaProposal",
    "SupervisionTweak",
    "ValidationProposal",
    "llm_settings",
    "merge_reviewed",
    "refine_with_llm",
    "text_problem",
]
