"""What the LLM may propose, one small typed model per agent (the tasks' ``output_pydantic``).

Only these fields exist: better descriptions, supervision refinements, extra SQL checks,
extra fault scenarios. Addresses, step order, pivots and compensations are not fields, so
they cannot be proposed. Items are parsed leniently (unknown keys are kept) so that an item
carrying an unknown key is rejected on its own, with the key named, instead of failing the
whole answer; the JSON Schema sent to the endpoint still says ``additionalProperties:
false``, as OpenAI's strict structured outputs require. Every item is checked before use by
``sagacrew.crew.llm.validate``; nothing here bounds a value.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class _Proposal(BaseModel):
    model_config = ConfigDict(
        extra="allow", frozen=True, json_schema_extra={"additionalProperties": False}
    )

    def unknown_fields(self) -> list[str]:
        """Keys the LLM sent that are not fields of this model, sorted."""
        return sorted(self.model_extra or {})


class NamedText(_Proposal):
    """A new description for the thing called ``name`` (it must exist already)."""

    name: str
    description: str


class SupervisionTweak(_Proposal):
    """New restart limits and backoff for an existing supervisor, and why.

    Bounds (checked on merge): ``intensity`` 1..100 restarts per ``period_s`` (0 < period_s
    <= 3600), 0 <= ``backoff_min_s`` <= ``backoff_max_s`` <= 300.
    """

    name: str
    intensity: int
    period_s: float
    backoff_min_s: float
    backoff_max_s: float
    rationale: str


class ActorProposal(_Proposal):
    """Actor Architect: actor descriptions (by actor address) and supervision refinements."""

    descriptions: list[NamedText]
    supervision: list[SupervisionTweak]


class SagaProposal(_Proposal):
    """Saga Orchestrator: saga descriptions (by saga name) and step descriptions (by
    ``saga.step``)."""

    saga_descriptions: list[NamedText]
    step_descriptions: list[NamedText]


class EventProposal(_Proposal):
    """Event Sourcing Specialist: event descriptions, by full event name."""

    descriptions: list[NamedText]


class InvariantCheck(_Proposal):
    """An extra consistency check, shaped like the blueprint's ``ValidationQuery``.

    ``violations_sql`` returns one row per violation (first column: the subject);
    ``subjects_sql`` returns one row with the number of subjects checked; ``params`` lists
    what each ``?`` of ``violations_sql`` is bound to (only ``"now"``, epoch seconds).
    """

    name: str
    description: str
    violations_sql: str
    subjects_sql: str
    params: list[str]


class FaultProposal(_Proposal):
    """An extra fault scenario, shaped like the blueprint's ``FaultScenario``.

    ``kind`` is one of ``step_failure``, ``business_failure``, ``compensation_failure``,
    ``duplicate_delivery``; ``step`` is ``None`` for every step of the saga; ``rate`` is a
    probability in [0, 1].
    """

    name: str
    kind: str
    saga: str
    step: str | None
    rate: float
    description: str


class ValidationProposal(_Proposal):
    """Consistency Validator: extra invariant checks and fault scenarios."""

    invariant_checks: list[InvariantCheck]
    fault_scenarios: list[FaultProposal]


Proposal = ActorProposal | SagaProposal | EventProposal | ValidationProposal
