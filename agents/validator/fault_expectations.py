"""Consistency Validator, planning half: what the system must do under each fault kind.

The fault plan states, per scenario, the outcome ``verify`` holds the system to when it
injects that fault into one saga (:class:`~sagacrew.agents.blueprint.FaultExpectation`).
A scenario without one (an old blueprint) is held to the default of its kind.
"""

from __future__ import annotations

from sagacrew.agents.blueprint import FaultExpectation, FaultKind

_EXPECTATIONS: dict[FaultKind, FaultExpectation] = {
    "step_failure": FaultExpectation(ends="completed", retried=True),
    "business_failure": FaultExpectation(ends="compensated", compensated_in_reverse=True),
    "compensation_failure": FaultExpectation(
        ends="compensated", retried=True, compensated_in_reverse=True, dead_lettered=True
    ),
    "lost_reply": FaultExpectation(ends="completed", retried=True),
    "process_crash": FaultExpectation(ends="completed", recovered=True),
    "duplicate_delivery": FaultExpectation(ends="completed"),
}


def expected_outcome(kind: FaultKind) -> FaultExpectation:
    """The outcome a saga meeting a fault of ``kind`` must have (every kind: acted once).

    - ``step_failure`` (transient): retried, then completed;
    - ``business_failure`` (refusal up to the pivot): done steps compensated, last first;
    - ``compensation_failure`` (a compensation keeps failing): retried, dead-lettered,
      and once redriven the saga ends compensated, steps undone last first;
    - ``lost_reply`` (acted, reply lost): the step times out, is retried, completes;
    - ``process_crash`` (SIGKILL mid-saga): a restart recovers the saga and completes it;
    - ``duplicate_delivery`` (every command delivered twice): completes.
    """
    return _EXPECTATIONS[kind].model_copy()
