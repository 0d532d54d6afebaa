"""The seed's rollback procedure: pause, drain, restore from snapshots, re-validate, resume.

1. **pause**: new sagas are refused (``SagaPaused``); sagas in flight go on (with
   workers: in every process in front of them, the store's switch);
2. **drain**: wait up to ``drain_timeout_s`` for the sagas in flight to finish (with
   workers: in every worker);
3. **restore**: restart the supervision tree, so every actor instance is rebuilt from
   its latest snapshot plus the later events (with workers, in every live worker too);
4. **replay check**: the rebuilt state of every aggregate instance equals a full replay,
   and every snapshot equals the replay up to its version;
5. **validate**: re-run the consistency validation;
6. **resume** only when every step above succeeded; otherwise the system stays paused
   and the report says why.

A step that fails skips the ones after it that would be unsafe (restoring actors under
sagas still in flight, resuming an unvalidated system); nothing is retried, nothing is
hidden.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sagacrew.runtime.operations._access import orchestrator_of
from sagacrew.runtime.operations._files import SystemReport, utc, write_report
from sagacrew.runtime.operations._restore import (
    ReplayCheck,
    check_replay,
    restart_supervision_tree,
    restart_workers,
)
from sagacrew.runtime.operations._validation import Validate, run_validation
from sagacrew.runtime.saga import SagaState
from sagacrew.runtime.system import SagaSystem

logger = logging.getLogger("sagacrew.runtime.operations")

StepName = Literal["pause", "drain", "restore", "replay_check", "validate", "resume"]
Outcome = Literal["ok", "failed", "skipped"]


@dataclass(frozen=True)
class RollbackStep:
    """One step of the procedure: ``outcome`` ok, failed or skipped, ``detail`` one line,
    ``at`` when it ended (epoch seconds)."""

    name: StepName
    outcome: Outcome
    detail: str
    at: float


@dataclass(frozen=True)
class RollbackReport(SystemReport):
    """Everything the rollback did, in order, and whether the system accepts sagas again.

    ``in_flight_left`` lists the sagas still unfinished when the drain deadline passed;
    ``replay`` is the replay check (``None`` when skipped); ``validation_passed`` is
    ``None`` when validation was skipped. ``reason`` says in one line why the system
    resumed or why it stays paused.
    """

    started_at: float
    ended_at: float
    drain_timeout_s: float
    steps: tuple[RollbackStep, ...]
    in_flight_left: tuple[str, ...]
    replay: ReplayCheck | None
    validation_passed: bool | None
    resumed: bool
    reason: str

    def to_markdown(self) -> str:
        """The report for people: outcome, the steps table, the sagas left in flight."""
        state = "RESUMED" if self.resumed else "STAYS PAUSED"
        lines = [
            f"# Rollback of {self.system}: {state}",
            "",
            f"Started {utc(self.started_at)}, ended {utc(self.ended_at)} "
            f"(drain timeout {self.drain_timeout_s:g} s).",
            "",
            f"**{state}**: {self.reason}",
            "",
            "## Steps",
            "",
            "| # | Step | Outcome | Detail |",
            "| ---: | --- | --- | --- |",
        ]
        for n, step in enumerate(self.steps, 1):
            detail = step.detail.replace("|", "\\|").replace("\n", " ")
            lines.append(f"| {n} | {step.name} | {step.outcome.upper()} | {detail} |")
        if self.in_flight_left:
            lines += ["", "## Sagas still in flight after the drain", ""]
            lines += [f"- `{saga_id}`" for saga_id in self.in_flight_left]
        if self.replay is not None and (self.replay.mismatches or self.replay.errors):
            lines += ["", "## Replay problems", ""]
            lines += [f"- mismatch: `{s}`" for s in self.replay.mismatches]
            lines += [f"- cannot replay: `{s}`" for s in self.replay.errors]
        return "\n".join(lines) + "\n"

    def write(self, directory: Path) -> RollbackReport:
        """Write ``rollback-<UTC stamp>.md`` and ``.json`` in ``directory``; return the
        report with its paths set."""
        return write_report(self, directory, "rollback", self.started_at)


class _Recorder:
    def __init__(
        self,
        system: str,
        clock: Callable[[], float],
        on_step: Callable[[RollbackStep], None] | None,
    ) -> None:
        self.system = system
        self.clock = clock
        self.on_step = on_step
        self.steps: list[RollbackStep] = []

    def __call__(self, name: StepName, outcome: Outcome, detail: str) -> None:
        step = RollbackStep(name, outcome, detail, self.clock())
        self.steps.append(step)
        level = logging.ERROR if outcome == "failed" else logging.INFO
        logger.log(
            level,
            "rollback %s: %s: %s",
            name,
            outcome,
            detail,
            extra={"system": self.system, "step": name},
        )
        if self.on_step is not None:
            self.on_step(step)

    def skip(self, names: tuple[StepName, ...], why: str) -> None:
        for name in names:
            self(name, "skipped", why)


async def rollback(
    system: SagaSystem,
    *,
    drain_timeout_s: float = 30.0,
    validate: Validate,
    report_dir: Path | None = None,
    clock: Callable[[], float] = time.time,
    on_step: Callable[[RollbackStep], None] | None = None,
) -> RollbackReport:
    """Run the rollback procedure on the started ``system``; return (and write) the report.

    ``drain_timeout_s`` (default 30 s) bounds the wait for sagas in flight; ``validate``
    re-runs the consistency validation (see :mod:`._validation`); ``report_dir``, when
    given, receives ``rollback-<stamp>.md`` and ``.json``; ``clock`` stamps the steps;
    ``on_step``, when given, is called with each step as soon as it is recorded.
    The system resumes (accepts new sagas) only when every step succeeded; otherwise it
    stays paused. Raises :class:`SystemNotStartedError` when the system is not started.
    """
    orchestrator = orchestrator_of(system, "rollback")
    started_at = clock()
    record = _Recorder(system.name, clock, on_step)
    left: tuple[str, ...] = ()
    replay: ReplayCheck | None = None
    validation_passed: bool | None = None
    reason = ""

    orchestrator.pause()
    record("pause", "ok", "new sagas are refused (SagaPaused); sagas in flight go on")

    still = await orchestrator.drain(drain_timeout_s)
    if still:
        active = [state.value for state in SagaState if not state.terminal]
        left = tuple(saga.saga_id for saga in system.store.list_sagas(active))
        record(
            "drain",
            "failed",
            f"{still} saga(s) still in flight after {drain_timeout_s:g} s: "
            f"{', '.join(left[:5])}{' ...' if len(left) > 5 else ''}",
        )
        reason = (
            f"{still} saga(s) did not finish within {drain_timeout_s:g} s, so actor state was "
            "not restored under them; let them finish (or resolve them) and run the rollback "
            "again, with a longer drain timeout if need be"
        )
        record.skip(("restore", "replay_check", "validate", "resume"), "the drain did not finish")
    else:
        record("drain", "ok", "no saga in flight")
        replay, validation_passed, reason = await _restore_and_validate(
            system, record, validate, drain_timeout_s
        )
        if replay is not None and replay.ok and validation_passed:
            orchestrator.resume()
            record("resume", "ok", "new sagas are accepted again")
    report = RollbackReport(
        system=system.name,
        started_at=started_at,
        ended_at=clock(),
        drain_timeout_s=drain_timeout_s,
        steps=tuple(record.steps),
        in_flight_left=left,
        replay=replay,
        validation_passed=validation_passed,
        resumed=not orchestrator.paused,
        reason=reason,
    )
    if report_dir is not None:
        report = report.write(report_dir)
        logger.info("rollback report written to %s", report.markdown_path)
    return report


async def _restore_and_validate(
    system: SagaSystem, record: _Recorder, validate: Validate, timeout_s: float
) -> tuple[ReplayCheck | None, bool | None, str]:
    """Steps 3-5; returns the replay check, the validation outcome and the reason line."""
    try:
        restart = await restart_supervision_tree(system)
    except Exception as error:
        logger.exception("restarting the supervision tree failed")
        record("restore", "failed", f"restarting the supervision tree raised {error!r}")
        record.skip(("replay_check", "validate", "resume"), "actor state was not restored")
        return None, None, f"actor state could not be restored: {error}"
    if not restart.ok:
        record("restore", "failed", f"actors not running after the restart: {restart.dead}")
        record.skip(("replay_check", "validate", "resume"), "actor state was not restored")
        return None, None, f"actors {', '.join(restart.dead)} did not start again"
    workers = ""
    if system.lease is not None:  # the workers restart theirs too (see restart_workers)
        behind = await restart_workers(system.store, timeout_s)
        if behind:
            record("restore", "failed", f"workers did not restart their actors: {behind}")
            record.skip(("replay_check", "validate", "resume"), "actor state was not restored")
            return None, None, f"workers {', '.join(behind)} did not restart their actors"
        workers = " (and in every live worker)"
    record(
        "restore",
        "ok",
        f"supervision tree {restart.root!r} restarted{workers}; {len(restart.alive)} actors "
        "running, each instance rebuilt from its latest snapshot plus later events",
    )
    try:
        replay = check_replay(system)
    except Exception as error:
        logger.exception("the replay check failed")
        record("replay_check", "failed", f"the replay check raised {error!r}")
        record.skip(("validate", "resume"), "the replay check did not finish")
        return None, None, f"replayed state could not be checked: {error}"
    record("replay_check", "ok" if replay.ok else "failed", replay.summary())
    validation = await run_validation(validate)
    record("validate", "ok" if validation.passed else "failed", validation.detail)
    if not replay.ok:
        record.skip(("resume",), "replayed state does not match the snapshots")
        return (
            replay,
            validation.passed,
            (
                "replayed state does not match the stored snapshots "
                f"({replay.mismatch_count} mismatch(es), {replay.error_count} unreadable "
                "stream(s)); repair the streams or snapshots, then roll back again"
            ),
        )
    if not validation.passed:
        record.skip(("resume",), "the consistency validation failed")
        return (
            replay,
            False,
            (
                f"the consistency validation failed ({validation.detail}); fix what it reports, "
                "then roll back again"
            ),
        )
    return replay, True, "every step succeeded and the consistency validation passed"
