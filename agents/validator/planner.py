"""Consistency Validator, planning half: the checks, faults and gates a system is held to.

Besides the built-in checks over the runtime's tables (``queries.py``), the plan adds one
check per thing the spec's sagas can leave behind, so that "no orphaned resources" is
checked concretely: aggregates created by a compensated saga must be deleted again,
updates restored, reservations released, external work undone or cancelled, and every
stored event must be in the taxonomy. It also records the cases each saga's generated
tests exercise (``saga_tests.py``).
"""

from __future__ import annotations

from collections.abc import Mapping

from sagacrew.agents.blueprint import (
    Blueprint,
    FaultKind,
    FaultScenario,
    StepSpec,
    ValidationPart,
    ValidationQuery,
)
from sagacrew.agents.naming import BUILTIN_COMPENSATION_VERB
from sagacrew.agents.spec.model import CommandKind, DomainSpec
from sagacrew.agents.validator.fault_expectations import expected_outcome
from sagacrew.agents.validator.queries import builtin_queries
from sagacrew.agents.validator.saga_tests import saga_test_plans

_COMPENSATED = "s.state = 'compensated'"


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


_BY_FORWARD_STEP = "e.metadata NOT LIKE '%\"undoes\"%'"
"""The event was not emitted by a compensation (an undo records the key it undoes in the
event's metadata): the ``deleted`` of a create's compensation is not a forward
``delete``, which its own compensation must re-create."""


class ConsistencyValidatorPlanner:
    """Plans validation: SQL checks, the fault-injection plan, the threshold profiles."""

    def contribute(self, spec: DomainSpec, blueprint: Blueprint) -> ValidationPart:
        assert blueprint.sagas is not None and blueprint.events is not None
        assert blueprint.actors is not None
        queries = [*builtin_queries(), self._taxonomy_check(blueprint)]
        events = {
            (actor.name, handler.command): handler.event
            for actor in blueprint.actors.actors
            for handler in actor.handlers
        }
        seen: set[tuple[str, str]] = set()
        for saga in blueprint.sagas.sagas:
            for step in saga.steps:
                key = (step.target, step.command)
                if key in seen or step.compensation is None or step.retriable:
                    continue  # steps after the pivot are retried, never compensated
                seen.add(key)
                query = self._undone_check(step, events)
                if query is not None:
                    queries.append(query)
        return ValidationPart(
            queries=queries,
            faults=self._faults(spec, blueprint),
            profiles={str(name): thresholds for name, thresholds in spec.profiles.items()},
            workload=spec.workload,
            invariants=list(spec.invariants),
            saga_tests=saga_test_plans(blueprint),
        )

    def _taxonomy_check(self, blueprint: Blueprint) -> ValidationQuery:
        assert blueprint.events is not None
        names = ", ".join(
            _sql_str(e.name) for e in sorted(blueprint.events.events, key=lambda e: e.name)
        )
        return ValidationQuery(
            name="events_in_taxonomy",
            description="Every stored event's type is in the taxonomy registry.",
            violations_sql=(
                "SELECT stream_id || '@' || version FROM events "
                f"WHERE event_type NOT IN ({names}) ORDER BY position"
            ),
            subjects_sql="SELECT COUNT(*) FROM events",
        )

    def _undone_check(
        self, step: StepSpec, events: Mapping[tuple[str, str], str | None]
    ) -> ValidationQuery | None:
        """What ``step`` did is undone in every compensated saga (its compensation's event
        follows its event on the same stream, or its external work is undone/cancelled)."""
        target, command = step.target, step.command
        assert step.compensation is not None
        if step.kind is CommandKind.EXTERNAL:
            return ValidationQuery(
                name=f"external_{target}_{command}_undone",
                description=(
                    f"{target}.{command} done by a compensated saga was undone or cancelled "
                    "(or refused: it never happened)."
                ),
                violations_sql=(
                    "SELECT c.idempotency_key FROM external_calls c "
                    "JOIN saga_executions s ON s.correlation_id = c.correlation_id "
                    f"WHERE {_COMPENSATED} AND c.system = {_sql_str(target)} "
                    f"AND c.operation = {_sql_str(command)} "
                    "AND c.status NOT IN ('undone', 'cancelled', 'refused') "
                    "ORDER BY c.idempotency_key"
                ),
                subjects_sql=(
                    "SELECT COUNT(*) FROM external_calls c "
                    "JOIN saga_executions s ON s.correlation_id = c.correlation_id "
                    f"WHERE {_COMPENSATED} AND c.system = {_sql_str(target)} "
                    f"AND c.operation = {_sql_str(command)}"
                ),
            )
        done = events.get((target, command))
        if done is None:
            return None
        undo_command = step.compensation.command
        undone = events.get((target, undo_command)) or (
            f"{target}.{BUILTIN_COMPENSATION_VERB[undo_command]}"
        )
        return ValidationQuery(
            name=f"{target.replace('.', '_')}_{command}_undone",
            description=f"Every {done} of a compensated saga is followed by {undone}.",
            violations_sql=(
                "SELECT e.stream_id || '@' || e.version FROM events e "
                "JOIN saga_executions s ON s.correlation_id = e.correlation_id "
                f"WHERE {_COMPENSATED} AND e.event_type = {_sql_str(done)} AND {_BY_FORWARD_STEP} "
                "AND NOT EXISTS (SELECT 1 FROM events u WHERE u.stream_id = e.stream_id "
                f"AND u.event_type = {_sql_str(undone)} AND u.version > e.version "
                "AND u.correlation_id = e.correlation_id) ORDER BY e.position"
            ),
            subjects_sql=(
                "SELECT COUNT(*) FROM events e "
                "JOIN saga_executions s ON s.correlation_id = e.correlation_id "
                f"WHERE {_COMPENSATED} AND e.event_type = {_sql_str(done)} AND {_BY_FORWARD_STEP}"
            ),
        )

    def _faults(self, spec: DomainSpec, blueprint: Blueprint) -> list[FaultScenario]:
        """One scenario per fault kind and saga, at the rates of the spec's workload."""
        assert blueprint.sagas is not None
        workload = spec.workload
        rates = {
            "step_failure": workload.step_failure_rate,
            "business_failure": workload.business_failure_rate,
            "compensation_failure": workload.compensation_failure_rate,
            "lost_reply": workload.lost_reply_rate,
            "process_crash": workload.crash_after,
            "duplicate_delivery": workload.duplicate_delivery_rate,
        }
        return [
            FaultScenario(
                name=f"{saga.name}_{suffix}",
                kind=kind,
                saga=saga.name,
                step=None,
                rate=rates[kind],
                description=description,
                expect=expected_outcome(kind),
            )
            for saga in blueprint.sagas.sagas
            for suffix, kind, description in _FAULTS
        ]


_FAULTS: tuple[tuple[str, FaultKind, str], ...] = (
    (
        "transient_step_failures",
        "step_failure",
        "A step attempt fails before any effect; the retry policy absorbs it.",
    ),
    (
        "business_refusals",
        "business_failure",
        "A step up to the pivot refuses for good; done steps are compensated in reverse order.",
    ),
    (
        "compensation_failures",
        "compensation_failure",
        "A compensation attempt fails; it is retried, then dead-lettered, never dropped.",
    ),
    (
        "lost_replies",
        "lost_reply",
        "A command acts but its reply is lost; the step times out and its retry, with the "
        "same idempotency key, must not act again.",
    ),
    (
        "process_crash",
        "process_crash",
        "The process is killed with SIGKILL once this share of a workload's sagas ended; on "
        "restart every saga in flight must still end.",
    ),
    (
        "duplicate_delivery",
        "duplicate_delivery",
        "A command is delivered twice; its idempotency key makes it act once.",
    ),
)
"""(name suffix, kind, what it does) of each fault scenario, in the fault plan's order."""
