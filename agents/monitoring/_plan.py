"""The alert-rule plan: one group of recording rules and alerts per concern."""

from __future__ import annotations

from collections.abc import Iterable

from sagacrew.agents.monitoring._common import (
    SEED_CONSISTENCY_MIN,
    SEED_SUCCESS_RATE_MIN,
    VERIFIED_FOR,
    _Alert,
    _Context,
    _Group,
    _num,
    _pct,
    _Record,
)


def _success_group(c: _Context) -> _Group:
    m, window = c.saga_match, "5m"

    def rate(outcome: str) -> str:
        return f"sum by (saga) (rate(sagacrew_sagas_{outcome}_total{{{m}}}[{window}]))"

    finished = " + ".join(
        rate(o) for o in ("completed", "compensated", "compensation_failed", "stalled")
    )
    ratio = "sagacrew:saga_success_ratio:rate5m"
    remediate = c.command("remediate", "--profile", c.profile)
    verify = c.command("verify", "--profile", c.profile)
    minimum = c.thresholds.success_rate_min
    return _Group(
        "success",
        (
            _Record("sagacrew:sagas_finished:rate5m", finished),
            _Record(ratio, f"{rate('completed')} / sagacrew:sagas_finished:rate5m{{{m}}}"),
            _Alert(
                "SagaSuccessRateBelowProfile",
                f"{ratio}{{{m}}} < {_num(minimum)}",
                ("saga",),
                "warning",
                "SAGA-001",
                f"Saga {{{{ $labels.saga }}}} success rate below the {c.profile} profile's "
                f"{_pct(minimum)}",
                "Over 5-minute windows, fewer than "
                f"{_pct(minimum)} of the {{{{ $labels.saga }}}} sagas that finished completed "
                "(the others compensated, failed to compensate or stalled).",
                f"Run `{verify}` for the failing sagas, then `{remediate}`.",
                for_="5m",
            ),
            _Alert(
                "SagaTransactionFailureDetected",
                f"{ratio}{{{m}}} < {_num(SEED_SUCCESS_RATE_MIN)}",
                ("saga",),
                "critical",
                "SAGA-001",
                f"Saga {{{{ $labels.saga }}}} success rate below {_pct(SEED_SUCCESS_RATE_MIN)}"
                " (SAGA-001, rollback trigger)",
                "Transaction failure detected: fewer than "
                f"{_pct(SEED_SUCCESS_RATE_MIN)} of the {{{{ $labels.saga }}}} sagas that "
                "finished over 5 minutes completed.",
                f"Run `{remediate}` (diagnoses and recovers the failing sagas); if it does "
                f"not recover, `{c.command('rollback')}`.",
                for_="5m",
                rollback=True,
            ),
            _Alert(
                "SagaStalled",
                f"sum by (saga) (increase(sagacrew_sagas_stalled_total{{{m}}}[5m])) > 0",
                ("saga",),
                "critical",
                "SAGA-001",
                "Saga {{ $labels.saga }} stalled after its pivot",
                "A step after the pivot of a {{ $labels.saga }} saga kept failing until the "
                "saga's deadline; it cannot compensate and waits for an operator.",
                f"Fix the failing step's service, then run `{remediate}`.",
            ),
        ),
    )


def _latency_group(c: _Context) -> _Group:
    m = c.saga_match
    rules: list[_Record | _Alert] = []
    remediate = c.command("remediate", "--profile", c.profile)
    gates = (
        ("p95", 0.95, c.thresholds.step_latency_p95_ms_max),
        ("p99", 0.99, c.thresholds.step_latency_p99_ms_max),
    )
    for name, quantile, _ in gates:
        rules.append(
            _Record(
                f"sagacrew:saga_step_latency_seconds:{name}_1m",
                f"histogram_quantile({quantile}, sum by (saga, step, le) "
                f"(rate(sagacrew_saga_step_latency_seconds_bucket{{{m}}}[1m])))",
            )
        )
    for name, _, max_ms in gates:
        rules.append(
            _Alert(
                f"SagaStepLatency{name.upper()}AboveProfile",
                f"sagacrew:saga_step_latency_seconds:{name}_1m{{{m}}} > {_num(max_ms / 1000)}",
                ("saga", "step"),
                "warning",
                "SAGA-001",
                f"Step {{{{ $labels.saga }}}}/{{{{ $labels.step }}}} {name} latency above "
                f"{max_ms:g} ms",
                f"Over 1-minute windows, the {name} latency of step {{{{ $labels.step }}}} of "
                f"{{{{ $labels.saga }}}} exceeds the {c.profile} profile's {max_ms:g} ms.",
                f"Check the step's target actor or external system, then `{remediate}`.",
                for_="5m",
            )
        )
    return _Group("latency", tuple(rules))


def _compensation_group(c: _Context) -> _Group:
    m = c.saga_match
    listing = c.command("dead-letters list")
    redrive = c.command("dead-letters redrive", "ID")
    remediate = c.command("remediate", "--profile", c.profile)
    return _Group(
        "compensation",
        (
            _Alert(
                "SagaCompensationFailed",
                "sum by (saga) "
                f"(increase(sagacrew_sagas_compensation_failed_total{{{m}}}[5m])) > 0",
                ("saga",),
                "critical",
                "SAGA-002",
                "A {{ $labels.saga }} compensation failed after its retries (SAGA-002)",
                "Compensation required: a {{ $labels.saga }} saga ended compensation_failed; "
                "its compensation is parked in the dead-letter queue.",
                f"List it with `{listing}`, fix the cause, then `{redrive}` "
                f"(or `{remediate}`, which redrives each parked compensation once).",
                rollback=True,
            ),
            _Alert(
                "SagaDeadLetters",
                "sum by (instance, kind) (increase(sagacrew_dead_letters_total[5m])) > 0",
                ("instance", "kind"),
                "warning",
                "SAGA-002",
                "New {{ $labels.kind }} dead letters on {{ $labels.instance }}",
                "Dead letters of kind {{ $labels.kind }} appeared in the last 5 minutes: "
                "parked compensations or actor messages that could not be delivered.",
                f"Inspect them with `{listing}`; redrive compensations with `{redrive}`.",
            ),
        ),
    )


def _supervision_group(c: _Context) -> _Group:
    remediate = c.command("remediate", "--profile", c.profile)
    limit = c.restart_threshold
    return _Group(
        "supervision",
        (
            _Alert(
                "ActorRestartsHigh",
                f"sum by (instance) (increase(sagacrew_actor_restarts_total[5m])) > {limit}",
                ("instance",),
                "warning",
                "SAGA-003",
                f"More than {limit} actor restarts in 5 minutes on {{{{ $labels.instance }}}}",
                "Actors keep crashing: more restarts in 5 minutes than the smallest restart "
                f"intensity ({limit}) of the supervision tree.",
                f"Run `{remediate}` (restarts the failing supervisor subtree once) and read "
                "actor_message_log for the messages that crash them.",
            ),
            _Alert(
                "ActorSupervisionFailed",
                "sum by (instance) (increase(sagacrew_supervision_failures_total[5m])) > 0",
                ("instance",),
                "critical",
                "SAGA-003",
                "Supervision tree failed on {{ $labels.instance }} (SAGA-003)",
                "A top-level supervisor exceeded its restart intensity or a child escalated "
                "to it: the actors under it are stopped.",
                f"Run `{remediate}`; if the tree fails again, `{c.command('rollback')}`.",
            ),
        ),
    )


def _consistency_group(c: _Context) -> _Group:
    score = f'min by (system) (sagacrew_consistency_score{{system="{c.system}"}})'
    minimum = c.thresholds.consistency_score_min
    verify = c.command("verify", "--profile", c.profile)
    return _Group(
        "consistency",
        (
            _Alert(
                "SagaConsistencyBelowProfile",
                f"{score} < {_num(minimum)}",
                ("system",),
                "warning",
                "SAGA-004",
                f"{{{{ $labels.system }}}} consistency score below the {c.profile} profile's "
                f"{_pct(minimum)}",
                "The last validation found consistency violations: SAGA-004 (consistency "
                "verified) is not met.",
                f"Run `{verify}` and read the failing checks in its report.",
            ),
            _Alert(
                "SagaConsistencyRollbackRequired",
                f"{score} < {_num(SEED_CONSISTENCY_MIN)}",
                ("system",),
                "critical",
                "SAGA-004",
                f"{{{{ $labels.system }}}} consistency score below "
                f"{_pct(SEED_CONSISTENCY_MIN)} (rollback trigger)",
                "Consistency is below the rollback threshold: pause, drain, restore from "
                "snapshots and re-validate before resuming.",
                f"Run `{c.command('rollback')}`, then `{verify}`.",
                rollback=True,
            ),
            _Alert(
                "SagaConsistencyVerified",
                f"{score} >= {_num(minimum)}",
                ("system",),
                "info",
                "SAGA-004",
                f"{{{{ $labels.system }}}} consistency verified for {VERIFIED_FOR} (SAGA-004)",
                f"The consistency score held at or above {_pct(minimum)} for {VERIFIED_FOR}: "
                "the system may advance.",
                f"Run `{c.command('remediate', '--profile', c.profile)}` to write the "
                "SAGA-004 completion report.",
                for_=VERIFIED_FOR,
            ),
        ),
    )


def _plan(c: _Context) -> tuple[_Group, ...]:
    return (
        _success_group(c),
        _latency_group(c),
        _compensation_group(c),
        _supervision_group(c),
        _consistency_group(c),
    )


def _alerts(groups: Iterable[_Group]) -> list[_Alert]:
    return [rule for group in groups for rule in group.rules if isinstance(rule, _Alert)]
