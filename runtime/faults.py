"""Scripted faults: fail chosen steps on purpose, for tests and fault-injection runs.

The seeded, rate-based injector of workload runs is :class:`sagacrew.runtime.saga.SeededFaults`;
this one fails exactly the steps it is told to, a set number of times.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sagacrew.runtime.saga import StepFailed


@dataclass
class ScriptedFault:
    """Fail ``step`` of ``saga`` in ``phase`` for its first ``times`` attempts.

    ``retriable=False`` is a business refusal (no retry; compensate), ``True`` a
    transient failure the retry policy absorbs.
    """

    saga: str
    step: str
    phase: str = "forward"
    retriable: bool = False
    times: int = 1
    fired: int = 0


@dataclass
class ScriptedFaults:
    """A :class:`~sagacrew.runtime.saga.FaultInjector` that fires the faults it holds."""

    faults: list[ScriptedFault] = field(default_factory=list)

    def add(self, fault: ScriptedFault) -> ScriptedFaults:
        self.faults.append(fault)
        return self

    def clear(self) -> None:
        """Stop injecting (e.g. the fault is fixed, before a redrive)."""
        self.faults.clear()

    def before(
        self, saga_id: str, saga_name: str, step_name: str, phase: str, attempt: int
    ) -> None:
        for fault in self.faults:
            matches = (fault.saga, fault.step, fault.phase) == (saga_name, step_name, phase)
            if matches and fault.fired < fault.times:
                fault.fired += 1
                raise StepFailed(
                    f"injected {'transient' if fault.retriable else 'business'} failure "
                    f"of {phase} {step_name} (attempt {attempt})",
                    retriable=fault.retriable,
                )
