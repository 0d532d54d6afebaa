"""One experiment per fault kind: inject exactly the planned fault, observe the system.

Each experiment runs one saga (or, for a crash, a few) of the scenario's saga type on
the scenario store, with only that fault injected, and returns an :class:`Observation`
read back from the runtime's own tables (saga state, step log, dead letters, events).
The step faulted is the scenario's ``step`` or, when the plan leaves it open, one chosen
by kind (:func:`faulted_step`). Judging the observation against the plan's expectation
is :mod:`sagacrew.agents.validator.verification.fault_scenarios`' job.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from dataclasses import dataclass, field

from sagacrew.agents.blueprint import FaultScenario
from sagacrew.agents.generated import GeneratedSystem
from sagacrew.agents.validator.verification.scenario_crash_worker import crash_saga_id
from sagacrew.agents.validator.verification.scenario_system import (
    AfterEffect,
    ScenarioSystem,
    build_scenario_system,
    repeated_effects,
)
from sagacrew.runtime import Envelope, SagaDefinition, ScriptedFault, ScriptedFaults, Store
from sagacrew.runtime.system import sample_inputs

CRASH_SAGAS = 4
"""Sagas a ``process_crash`` experiment runs; the scenario's rate says how many end
before the kill."""


@dataclass
class Observation:
    """What an experiment injected and what the system did.

    ``states``: each saga's final state; ``attempts``: attempts of the faulted step, or
    of ``attempted`` (the failing compensation, for a compensation failure);
    ``compensated``: steps in the order their compensation was first attempted,
    ``undone``: those whose compensation succeeded in the end, and ``done``: the done
    steps with a compensation, last done first (what reverse-order compensation gives);
    ``dead_letters``: the saga's compensation dead letters by status at the end;
    ``recovered``: sagas a restart found in flight and ``killed_in``: the saga in whose
    step the kill came;
    ``repeated``: effects that happened more than once.
    """

    fault: str
    step: str | None
    injected: bool = False
    states: dict[str, str] = field(default_factory=dict)
    attempts: int = 0
    attempted: str = ""
    compensated: list[str] = field(default_factory=list)
    undone: set[str] = field(default_factory=set)
    done: list[str] = field(default_factory=list)
    dead_letters: list[str] = field(default_factory=list)
    recovered: list[str] = field(default_factory=list)
    killed_in: str | None = None
    repeated: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def definition_of(system: GeneratedSystem, saga: str) -> SagaDefinition:
    """The runtime definition of the saga named ``saga``."""
    for definition in system.definition.sagas:
        if definition.name == saga:
            return definition  # type: ignore[no-any-return]
    raise ValueError(f"the fault plan names saga {saga!r}, which {system.name} does not have")


def faulted_step(scenario: FaultScenario, definition: SagaDefinition) -> int:
    """The index of the step the scenario faults: the one it names; else, for a refusal
    or a failing compensation, the pivot (the last step without one), whose refusal
    leaves the most done steps to compensate; for a crash, the pivot too, so recovery
    meets a saga mid-way; otherwise the first step that is retried at all."""
    names = [step.name for step in definition.steps]
    if scenario.step is not None:
        if scenario.step not in names:
            raise ValueError(f"saga {definition.name!r} has no step {scenario.step!r}")
        return names.index(scenario.step)
    pivot = definition.pivot_index
    if scenario.kind in ("business_failure", "compensation_failure", "process_crash"):
        return pivot if pivot is not None else len(names) - 1
    retried = [i for i, step in enumerate(definition.steps) if step.retry_policy.max_attempts > 1]
    return retried[0] if retried else 0


class Experiment:
    """Runs a scenario's experiment on the scenario store ``store_url``."""

    def __init__(
        self, system: GeneratedSystem, scenario: FaultScenario, store_url: str, crash_url: str
    ) -> None:
        self.system = system
        self.scenario = scenario
        self.store_url = store_url
        self.crash_url = crash_url
        self.definition = definition_of(system, scenario.saga)
        self.index = faulted_step(scenario, self.definition)
        self.step = self.definition.steps[self.index].name
        self.saga_id = f"scenario-{scenario.name}"

    def run(self) -> Observation:
        """Inject the scenario's fault and observe (a crash runs in a child process)."""
        if self.scenario.kind == "process_crash":
            return self._crash()
        limit = self.definition.deadline_s + 30.0
        return asyncio.run(asyncio.wait_for(self._in_process(), timeout=limit))

    # -- in-process experiments ---------------------------------------------------------

    async def _in_process(self) -> Observation:
        kind = self.scenario.kind
        faults = ScriptedFaults()
        duplicate_rate = 0.0
        after: AfterEffect | None = None
        lost: list[str] = []
        if kind == "step_failure":
            fault = f"transient failure of step {self.step}, attempt 1"
            faults.add(ScriptedFault(self.scenario.saga, self.step, retriable=True))
        elif kind == "business_failure":
            fault = f"business refusal of step {self.step}"
            faults.add(ScriptedFault(self.scenario.saga, self.step))
        elif kind == "compensation_failure":
            undo = self._first_compensated()
            if undo is None:
                return Observation(
                    f"refusal of {self.step}", self.step, notes=["no done step to compensate"]
                )
            times = self.definition.compensation_retry.max_attempts
            fault = (
                f"business refusal of step {self.step}; compensation of {undo} fails "
                f"all {times} attempts"
            )
            faults.add(ScriptedFault(self.scenario.saga, self.step))
            faults.add(
                ScriptedFault(
                    self.scenario.saga, undo, phase="compensation", retriable=True, times=times
                )
            )
        elif kind == "lost_reply":
            fault = f"reply of step {self.step} lost after it acted (attempt 1)"
            key = f"{self.saga_id}:{self.index}:forward"

            async def lose(_: str, envelope: Envelope) -> None:
                if envelope.idempotency_key == key and not lost:
                    lost.append(key)
                    await asyncio.Event().wait()

            after = lose
        else:
            fault = "every command delivered twice"
            duplicate_rate = 1.0
        saga_system = build_scenario_system(
            self.system,
            self.store_url,
            faults=faults,
            duplicate_delivery_rate=duplicate_rate,
            after_effect=after,
        )
        try:
            async with saga_system:
                observed = await self._run_one(saga_system, faults, fault)
            observed.injected = (
                bool(lost)
                if kind == "lost_reply"
                else saga_system.duplicates_delivered > 0
                if kind == "duplicate_delivery"
                else all(f.fired > 0 for f in faults.faults)
            )
            return observed
        finally:
            saga_system.store.close()

    async def _run_one(
        self, saga_system: ScenarioSystem, faults: ScriptedFaults, fault: str
    ) -> Observation:
        saga = self.scenario.saga
        types = self.system.definition.saga_inputs[saga]
        data = sample_inputs(types, saga, 0, self.saga_id)
        result = await saga_system.run_saga(saga, data, saga_id=self.saga_id)
        observed = Observation(fault, self.step)
        if self.scenario.kind == "compensation_failure":
            assert saga_system.orchestrator is not None
            parked = [
                letter
                for letter in saga_system.orchestrator.list_dead_letters()
                if letter.saga_id == self.saga_id
            ]
            observed.notes.append(
                f"before the redrive: {result.state}, {len(parked)} dead letter(s) parked"
            )
            faults.clear()  # the fault is fixed: redrive what was parked
            for letter in parked:
                assert letter.id is not None
                result = await saga_system.orchestrator.redrive(letter.id)
            observed.notes.append("redriven" if parked else "nothing to redrive")
        self._read(saga_system.store, observed)
        return observed

    def _first_compensated(self) -> str | None:
        """The last step before the faulted one with a compensation (compensated first)."""
        before = self.definition.steps[: self.index]
        undone = [step.name for step in before if step.compensation is not None]
        return undone[-1] if undone else None

    def _read(self, store: Store, observed: Observation, saga_ids: list[str] | None = None) -> None:
        """Fill ``observed`` from the store: states, attempts, compensations, dead
        letters, repeated effects of ``saga_ids`` (default: the experiment's saga)."""
        ids = saga_ids or [self.saga_id]
        for saga_id in ids:
            saga = store.get_saga(saga_id)
            observed.states[saga_id] = "missing" if saga is None else str(saga.state)
            observed.repeated += repeated_effects(store, saga_id)
        log = store.step_log(ids[0])
        phase = "compensation" if self.scenario.kind == "compensation_failure" else "forward"
        names = [step.name for step in self.definition.steps]
        undo = self._first_compensated()
        index = names.index(undo) if phase == "compensation" and undo else self.index
        observed.attempted = f"compensation of {undo}" if index != self.index else ""
        observed.attempts = max(
            (e.attempt for e in log if e.step_index == index and e.phase == phase), default=0
        )
        for entry in log:
            if entry.phase == "compensation" and entry.step_name not in observed.compensated:
                observed.compensated.append(entry.step_name)
            if entry.phase == "compensation" and entry.status == "succeeded":
                observed.undone.add(entry.step_name)
        done = {e.step_index for e in log if e.phase == "forward" and e.status == "succeeded"}
        observed.done = [
            step.name
            for i, step in reversed(list(enumerate(self.definition.steps)))
            if i in done and step.compensation is not None
        ]
        letters = store.list_dead_letters(status=None)
        observed.dead_letters = [str(letter.status) for letter in letters if letter.saga_id in ids]

    # -- the crash experiment -----------------------------------------------------------

    def _crash(self) -> Observation:
        saga = self.scenario.saga
        kill_after = max(1, min(CRASH_SAGAS - 1, round(CRASH_SAGAS * self.scenario.rate)))
        fault = (
            f"SIGKILL once {kill_after} of {CRASH_SAGAS} sagas ended, right after step "
            f"{self.step} of another acted"
        )
        observed = Observation(fault, self.step)
        child = subprocess.run(
            [
                sys.executable,
                "-m",
                "sagacrew.agents.validator.verification.scenario_crash_worker",
                str(self.system.root.resolve()),
                self.crash_url,
                saga,
                str(CRASH_SAGAS),
                str(kill_after),
                str(self.index),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if child.returncode != -signal.SIGKILL:
            tail = (child.stderr.strip().splitlines() or ["no output"])[-1]
            observed.notes.append(f"the worker exited with {child.returncode}: {tail}")
            return observed
        observed.injected = True
        printed = child.stdout.strip().splitlines()
        observed.killed_in = printed[-1] if printed else None
        limit = self.definition.deadline_s + 30.0
        observed.recovered = asyncio.run(asyncio.wait_for(self._restart(), timeout=limit))
        from sagacrew.runtime import open_store

        store = open_store(self.crash_url)
        try:
            ids = [crash_saga_id(saga, i) for i in range(CRASH_SAGAS)]
            ids.sort(key=lambda saga_id: saga_id != observed.killed_in)  # it is read first
            self._read(store, observed, [i for i in ids if store.get_saga(i) is not None])
        finally:
            store.close()
        return observed

    async def _restart(self) -> list[str]:
        """Start the system on the crash store and wait for every saga it resumes."""
        saga_system = build_scenario_system(self.system, self.crash_url)
        try:
            async with saga_system:
                assert saga_system.orchestrator is not None
                for saga_id in saga_system.recovered:
                    await saga_system.orchestrator.wait(saga_id)
                return list(saga_system.recovered)
        finally:
            saga_system.store.close()
