"""Verify's scenario phase: every fault scenario of the plan, run and judged.

The Consistency Validator's fault plan (``blueprint.validation.faults``, also written to
``validation/fault_plan.json``) lists one scenario per fault kind and saga, each with the
outcome the system must have (:class:`~sagacrew.agents.blueprint.FaultExpectation`;
an old blueprint without one gets its kind's default,
:func:`~sagacrew.agents.validator.fault_expectations.expected_outcome`). For each,
:mod:`.scenario_experiments` injects exactly that fault into a saga of the
scenario's type on a store beside the verify store, and this module compares what the
system did with the expectation: a :class:`ScenarioOutcome` per scenario, which the
verdict lists and gates on (a failed scenario fails the verdict).
"""

from __future__ import annotations

from collections.abc import Callable

from sagacrew.agents.blueprint import FaultExpectation, FaultScenario
from sagacrew.agents.generated import GeneratedSystem
from sagacrew.agents.validator import ScenarioOutcome
from sagacrew.agents.validator.fault_expectations import expected_outcome
from sagacrew.agents.validator.verification.scenario_experiments import Experiment, Observation
from sagacrew.agents.validator.verification.scenario_system import scenario_store_url

__all__ = ["describe_expectation", "judge", "run_fault_scenarios", "run_scenario"]


def run_fault_scenarios(
    system: GeneratedSystem,
    store_url: str,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> list[ScenarioOutcome]:
    """Run every scenario of ``system``'s fault plan beside ``store_url`` (on fresh
    stores ``<stem>-scenarios.db`` and ``<stem>-scenario_crash.db``, or PostgreSQL
    schemas of those names), in the plan's order; ``progress(done, total)``."""
    assert system.blueprint.validation is not None
    scenarios = system.blueprint.validation.faults
    url = scenario_store_url(store_url)
    crash_url: str | None = None
    outcomes: list[ScenarioOutcome] = []
    for done, scenario in enumerate(scenarios):
        if progress is not None:
            progress(done, len(scenarios))
        if scenario.kind == "process_crash" and crash_url is None:
            crash_url = scenario_store_url(store_url, "scenario_crash")
        outcomes.append(run_scenario(system, scenario, url, crash_url or url))
    if progress is not None:
        progress(len(scenarios), len(scenarios))
    return outcomes


def run_scenario(
    system: GeneratedSystem, scenario: FaultScenario, store_url: str, crash_url: str
) -> ScenarioOutcome:
    """Run one scenario's experiment and judge it; an experiment that cannot run (or
    raises, or does not end in time) is a failed scenario that says why."""
    expect = scenario.expect or expected_outcome(scenario.kind)
    try:
        observed = Experiment(system, scenario, store_url, crash_url).run()
    except Exception as error:  # the verdict reports it; verify goes on
        reason = f"{type(error).__name__}: {error}".strip()
        step, fault = scenario.step, scenario.description
        observation = f"the experiment failed: {reason}"
        saga_ids: list[str] = []
        unmet = [f"the experiment could not run ({reason})"]
    else:
        step, fault = observed.step, observed.fault
        observation = describe_observation(observed)
        saga_ids = sorted(observed.states)
        unmet = judge(observed, expect)
    return ScenarioOutcome(
        name=scenario.name,
        kind=scenario.kind,
        saga=scenario.saga,
        step=step,
        fault=fault,
        expected=describe_expectation(expect),
        observed=observation,
        passed=not unmet,
        saga_ids=saga_ids,
        unmet=unmet,
    )


def judge(observed: Observation, expect: FaultExpectation) -> list[str]:
    """Each expectation ``observed`` does not meet, as a short sentence (none: passed)."""
    unmet: list[str] = []
    if not observed.injected:
        unmet.append("the fault was not injected")
    wrong = {saga: state for saga, state in observed.states.items() if state != expect.ends}
    if not observed.states or wrong:
        ended = ", ".join(f"{s} {state}" for s, state in sorted(wrong.items())) or "no saga"
        unmet.append(f"expected every saga to end {expect.ends}, but {ended}")
    if expect.retried and observed.attempts < 2:
        unmet.append(f"expected a retry, but the faulted step ran {observed.attempts} time(s)")
    if expect.compensated_in_reverse and observed.compensated != observed.done:
        unmet.append(
            f"expected compensations {_steps(observed.done)}, got {_steps(observed.compensated)}"
        )
    elif expect.compensated_in_reverse and observed.undone != set(observed.done):
        left = [step for step in observed.done if step not in observed.undone]
        unmet.append(f"compensations never succeeded: {_steps(left)}")
    if expect.dead_lettered and "redriven" not in observed.dead_letters:
        unmet.append("expected a dead-lettered compensation redriven to its end")
    if expect.dead_lettered and "parked" in observed.dead_letters:
        unmet.append("a dead letter is still parked")
    if expect.recovered and (
        observed.killed_in is None or observed.killed_in not in observed.recovered
    ):
        unmet.append(f"expected the restart to recover {observed.killed_in or 'the saga'}")
    if expect.acted_once and observed.repeated:
        unmet.append(f"a command acted more than once: {', '.join(observed.repeated[:3])}")
    return unmet


def describe_expectation(expect: FaultExpectation) -> str:
    """The expectation in words, e.g. ``ends compensated; compensated in reverse order``."""
    parts = [f"ends {expect.ends}"]
    parts += [
        text
        for flag, text in (
            (expect.retried, "the faulted step is retried"),
            (expect.compensated_in_reverse, "done steps compensated in reverse order"),
            (expect.dead_lettered, "the failing compensation is dead-lettered, then redriven"),
            (expect.recovered, "a restart recovers the sagas in flight"),
            (expect.acted_once, "every command acts once"),
        )
        if flag
    ]
    return "; ".join(parts)


def describe_observation(observed: Observation) -> str:
    """What the system did, in words (states, retries, compensations, dead letters...)."""
    states: dict[str, int] = {}
    for state in observed.states.values():
        states[state] = states.get(state, 0) + 1
    ended = ", ".join(f"{n} {state}" for state, n in sorted(states.items()))
    single = len(observed.states) == 1
    parts = [f"ended {next(iter(states))}" if single else f"ended {ended or 'nowhere'}"]
    if observed.recovered or observed.killed_in is not None:
        parts.append(f"killed in {observed.killed_in}; {len(observed.recovered)} recovered")
    parts += observed.notes
    parts.append(f"{observed.attempted or observed.step} attempted {observed.attempts}x")
    if observed.compensated:
        parts.append(f"compensated {_steps(observed.compensated)}")
    if observed.dead_letters:
        parts.append(f"dead letters: {', '.join(observed.dead_letters)}")
    parts.append(
        f"repeated effects: {', '.join(observed.repeated[:3])}"
        if observed.repeated
        else "each command acted once"
    )
    return "; ".join(parts)


def _steps(names: list[str]) -> str:
    return " > ".join(names) if names else "none"
