"""The built-in consistency checks: portable SQL over the runtime's own tables.

Every query runs unchanged on SQLite and PostgreSQL: no JSON functions, no ``%``
(psycopg placeholders), ``?`` placeholders only in ``violations_sql`` and bound in the
order of ``ValidationQuery.params``. ``violations_sql`` returns one row per violation
whose first column names the subject (a saga id wherever the subject is a saga, so the
verdict can list failing sagas); ``subjects_sql`` returns one row holding the number of
subjects checked, in the same unit as the violations.

Terminal saga states: ``completed``, ``compensated``, ``compensation_failed``,
``stalled``.
"""

from __future__ import annotations

from sagacrew.agents.blueprint import ValidationQuery

TERMINAL_STATES = ("completed", "compensated", "compensation_failed", "stalled")
"""Saga states after which a saga never moves again."""

_TERMINAL = "('completed', 'compensated', 'compensation_failed', 'stalled')"
_COMPENSATING_ENDS = "('compensated', 'compensation_failed')"

_SAGAS_PAST_DEADLINE = f"""
SELECT s.saga_id
FROM saga_executions s
WHERE s.state NOT IN {_TERMINAL} AND s.deadline_at < ?
ORDER BY s.saga_id
"""

# A compensated (or compensation_failed) saga is a violation when
# (a) a compensatable forward step that succeeded has no succeeded compensation, unless
#     the saga is compensation_failed and that step's compensation is parked as a dead
#     letter; or
# (b) two steps were compensated in forward order: a lower step's compensation succeeded
#     before a higher one's. Steps whose compensation was dead-lettered are left out of
#     (b): a redriven compensation succeeds out of band, after the others; so are late
#     compensations (a completion event that arrived after the saga was compensated
#     undoes its step again, out of band, under a ``:late_compensation:`` key rather than
#     the ``saga:step:compensation:attempt`` key of the compensation path).
_COMPENSATION_ORDER = f"""
SELECT s.saga_id
FROM saga_executions s
WHERE s.state IN {_COMPENSATING_ENDS}
  AND (
    EXISTS (
      SELECT 1 FROM saga_step_log f
      WHERE f.saga_id = s.saga_id AND f.phase = 'forward' AND f.status = 'succeeded'
        AND f.compensatable = 1
        AND NOT EXISTS (
          SELECT 1 FROM saga_step_log c
          WHERE c.saga_id = f.saga_id AND c.step_index = f.step_index
            AND c.phase = 'compensation' AND c.status = 'succeeded'
        )
        AND NOT (
          s.state = 'compensation_failed'
          AND EXISTS (
            SELECT 1 FROM dead_letters d
            WHERE d.saga_id = f.saga_id AND d.step_index = f.step_index
              AND d.kind = 'compensation' AND d.status = 'parked'
          )
        )
    )
    OR EXISTS (
      SELECT 1 FROM saga_step_log lo
      JOIN saga_step_log hi
        ON hi.saga_id = lo.saga_id AND hi.step_index > lo.step_index
      WHERE lo.saga_id = s.saga_id
        AND lo.phase = 'compensation' AND lo.status = 'succeeded'
        AND hi.phase = 'compensation' AND hi.status = 'succeeded'
        AND lo.seq < hi.seq
        AND hi.idempotency_key = hi.saga_id || ':' || CAST(hi.step_index AS TEXT)
          || ':compensation:' || CAST(hi.attempt AS TEXT)
        AND NOT EXISTS (
          SELECT 1 FROM dead_letters d
          WHERE d.saga_id = s.saga_id AND d.kind = 'compensation'
            AND (d.step_index = lo.step_index OR d.step_index = hi.step_index)
        )
    )
  )
ORDER BY s.saga_id
"""

# A saga is a violation when it is compensation_failed with no parked compensation dead
# letter, or when it is terminal and one of its compensation attempts failed with no
# later success and no dead letter for that step (a silently dropped compensation).
_FAILED_COMPENSATIONS = f"""
SELECT s.saga_id
FROM saga_executions s
WHERE (
    s.state = 'compensation_failed'
    AND NOT EXISTS (
      SELECT 1 FROM dead_letters d
      WHERE d.saga_id = s.saga_id AND d.kind = 'compensation' AND d.status = 'parked'
    )
  )
  OR (
    s.state IN {_TERMINAL}
    AND EXISTS (
      SELECT 1 FROM saga_step_log c
      WHERE c.saga_id = s.saga_id AND c.phase = 'compensation' AND c.status = 'failed'
        AND NOT EXISTS (
          SELECT 1 FROM saga_step_log later
          WHERE later.saga_id = c.saga_id AND later.step_index = c.step_index
            AND later.phase = 'compensation' AND later.status = 'succeeded'
            AND later.seq > c.seq
        )
        AND NOT EXISTS (
          SELECT 1 FROM dead_letters d
          WHERE d.saga_id = c.saga_id AND d.step_index = c.step_index
            AND d.kind = 'compensation'
        )
    )
  )
ORDER BY s.saga_id
"""

_FAILED_COMPENSATION_SUBJECTS = f"""
SELECT COUNT(*) FROM saga_executions s
WHERE s.state = 'compensation_failed'
  OR (
    s.state IN {_TERMINAL}
    AND EXISTS (
      SELECT 1 FROM saga_step_log c
      WHERE c.saga_id = s.saga_id AND c.phase = 'compensation' AND c.status = 'failed'
    )
  )
"""

_VERSION_GAPS = """
SELECT stream_id
FROM events
GROUP BY stream_id
HAVING MAX(version) <> COUNT(*) OR MIN(version) <> 1
ORDER BY stream_id
"""

_MESSAGES_WITHOUT_IDS = """
SELECT actor || ' ' || message_name || ' ' || message_id
FROM actor_message_log
WHERE correlation_id IS NULL OR correlation_id = ''
   OR causation_id IS NULL OR causation_id = ''
ORDER BY seq
"""

_INCOMPLETE_COMPLETED = """
SELECT saga_id
FROM saga_executions
WHERE state = 'completed' AND steps_completed <> steps_total
ORDER BY saga_id
"""


def _sql(text: str) -> str:
    """Queries are stored as one line each: stable in ``blueprint.json`` and in reports."""
    return " ".join(text.split())


def builtin_queries() -> list[ValidationQuery]:
    """The checks every system is held to, in a fixed order.

    - ``sagas_terminal_or_within_deadline``: subjects all sagas; violations the sagas not
      in a terminal state whose ``deadline_at`` is before ``now`` (bound from ``params``);
    - ``compensated_steps_in_reverse_order``: subjects the sagas in ``compensated`` or
      ``compensation_failed``; violations those with a succeeded compensatable forward
      step never compensated (a parked dead letter excuses it in ``compensation_failed``)
      or with compensations that succeeded in forward order;
    - ``failed_compensations_dead_lettered``: subjects the sagas in
      ``compensation_failed`` or terminal with a failed compensation attempt; violations
      those in ``compensation_failed`` without a parked compensation dead letter, and
      those with a failed compensation attempt with no later success and no dead letter;
    - ``event_streams_have_no_version_gaps``: subjects the event streams; violations the
      streams whose versions are not exactly 1..n;
    - ``messages_carry_correlation_and_causation``: subjects the rows of
      ``actor_message_log``; violations the rows with a NULL or empty id
      (``"actor message_name message_id"``);
    - ``completed_sagas_have_all_steps``: subjects the completed sagas; violations those
      whose ``steps_completed`` differs from ``steps_total``.
    """
    return [
        ValidationQuery(
            name="sagas_terminal_or_within_deadline",
            description="Every saga is in a terminal state or still within its deadline.",
            violations_sql=_sql(_SAGAS_PAST_DEADLINE),
            subjects_sql="SELECT COUNT(*) FROM saga_executions",
            params=["now"],
        ),
        ValidationQuery(
            name="compensated_steps_in_reverse_order",
            description=(
                "Every failed saga's completed steps were compensated, in reverse order "
                "(a parked dead letter stands for a compensation that failed for good)."
            ),
            violations_sql=_sql(_COMPENSATION_ORDER),
            subjects_sql=_sql(
                f"SELECT COUNT(*) FROM saga_executions WHERE state IN {_COMPENSATING_ENDS}"
            ),
        ),
        ValidationQuery(
            name="failed_compensations_dead_lettered",
            description=(
                "Every compensation that failed for good is parked in the dead-letter "
                "queue; none is silently dropped."
            ),
            violations_sql=_sql(_FAILED_COMPENSATIONS),
            subjects_sql=_sql(_FAILED_COMPENSATION_SUBJECTS),
        ),
        ValidationQuery(
            name="event_streams_have_no_version_gaps",
            description="Every event stream's versions run 1, 2, ... n with no gap.",
            violations_sql=_sql(_VERSION_GAPS),
            subjects_sql="SELECT COUNT(DISTINCT stream_id) FROM events",
        ),
        ValidationQuery(
            name="messages_carry_correlation_and_causation",
            description=(
                "Every message an actor handled carries a correlation_id and a causation_id."
            ),
            violations_sql=_sql(_MESSAGES_WITHOUT_IDS),
            subjects_sql="SELECT COUNT(*) FROM actor_message_log",
        ),
        ValidationQuery(
            name="completed_sagas_have_all_steps",
            description="Every completed saga completed all of its steps.",
            violations_sql=_sql(_INCOMPLETE_COMPLETED),
            subjects_sql="SELECT COUNT(*) FROM saga_executions WHERE state = 'completed'",
        ),
    ]
