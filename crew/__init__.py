"""sagacrew's crew: the domain spec, the four-agent pipeline, the emitters and the CLI.

``generate`` and ``design`` live in ``sagacrew.crew.pipeline`` (importing them loads the
agents); ``sagacrew.crew.flow`` runs the same pipeline as a crewAI Flow.
"""

from sagacrew.crew.blueprint import Blueprint

__all__ = ["Blueprint"]
