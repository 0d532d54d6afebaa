"""Monitoring of a generated system: Prometheus alert rules, their promtool tests, a dashboard.

Pure functions of the blueprint and a threshold profile (same input, same bytes), over the
metrics of :mod:`sagacrew.runtime.metrics`. Windows follow the stage dossier: success rate
over 5-minute windows, step latency over 1-minute windows, consistency from the (hourly)
validation. Alert rules, one group per concern:

- ``success`` (SAGA-001): recorded per saga ``sagacrew:saga_success_ratio:rate5m``
  (completed / finished, finished = completed + compensated + compensation_failed +
  stalled, as in the verdict); alerts ``SagaSuccessRateBelowProfile`` (below the
  profile's minimum), ``SagaTransactionFailureDetected`` (below 95 %, a rollback
  trigger), ``SagaStalled`` (a saga stalled after its pivot);
- ``latency`` (SAGA-001): recorded per step ``sagacrew:saga_step_latency_seconds:p95_1m``
  and ``:p99_1m``; alerts ``SagaStepLatencyP95AboveProfile`` / ``...P99AboveProfile``;
- ``compensation`` (SAGA-002): ``SagaCompensationFailed`` (a compensation was
  dead-lettered after its retries, a rollback trigger), ``SagaDeadLetters`` (any dead
  letter);
- ``supervision`` (SAGA-003): ``ActorRestartsHigh`` (more restarts in 5 minutes than the
  smallest restart intensity of the tree), ``ActorSupervisionFailed`` (a supervision tree
  gave up: intensity exceeded or an escalation reached its root);
- ``consistency`` (SAGA-004): ``SagaConsistencyBelowProfile``,
  ``SagaConsistencyRollbackRequired`` (below 95 %, a rollback trigger) and
  ``SagaConsistencyVerified`` (info: at or above the minimum for 24 h, advance).

Every alert carries the labels ``severity``, ``trigger`` (``SAGA-00x``), ``system``,
``profile`` and ``rollback`` (``"true"`` for the seed's rollback triggers), and the
annotations ``summary``, ``description`` and ``runbook`` (the sagacrew command to run).
Saga metrics are selected by the blueprint's saga names, the consistency score by system.
"""

from sagacrew.agents.monitoring._common import (
    SEED_CONSISTENCY_MIN,
    SEED_SUCCESS_RATE_MIN,
    VERIFIED_FOR,
    MonitoringError,
    Severity,
)
from sagacrew.agents.monitoring._dashboard import GRAFANA_SCHEMA_VERSION, dashboard
from sagacrew.agents.monitoring._files import monitoring_files
from sagacrew.agents.monitoring._rule_tests import alert_rule_tests
from sagacrew.agents.monitoring._rules import alert_rules, rule_file_name

__all__ = [
    "GRAFANA_SCHEMA_VERSION",
    "SEED_CONSISTENCY_MIN",
    "SEED_SUCCESS_RATE_MIN",
    "VERIFIED_FOR",
    "MonitoringError",
    "Severity",
    "alert_rule_tests",
    "alert_rules",
    "dashboard",
    "monitoring_files",
    "rule_file_name",
]
