"""sagacrew's crew: the four-agent pipeline, the emitters and the CLI.

The domain spec and the blueprint (the agents' typed input and output) live in
``sagacrew.agents``; verification in ``sagacrew.agents.validator.verification``.

``generate`` and ``design`` live in ``sagacrew.crew.pipeline`` (importing them loads the
agents); ``sagacrew.crew.flow`` runs the same pipeline as a crewAI Flow.
"""

from sagacrew.agents.blueprint import Blueprint

__all__ = ["Blueprint"]
