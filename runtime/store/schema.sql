-- sagacrew runtime tables. One schema for SQLite and PostgreSQL: portable types only.
-- Timestamps are seconds since the epoch (REAL / DOUBLE PRECISION); JSON is TEXT.
-- The PostgreSQL backend maps INTEGER PRIMARY KEY (AUTOINCREMENT) to BIGSERIAL / IDENTITY
-- and REAL to DOUBLE PRECISION; column names and meanings are identical.

CREATE TABLE IF NOT EXISTS events (
    position        INTEGER PRIMARY KEY AUTOINCREMENT,  -- global order, for projections
    stream_id       TEXT    NOT NULL,                   -- e.g. 'kitchen.ticket:T-1'
    version         INTEGER NOT NULL,                   -- 1, 2, 3 ... per stream, no gaps
    event_type      TEXT    NOT NULL,                   -- 'context.aggregate.past_tense_verb'
    event_version   INTEGER NOT NULL DEFAULT 1,         -- schema version of the payload
    payload         TEXT    NOT NULL,                   -- JSON object
    metadata        TEXT    NOT NULL DEFAULT '{}',      -- JSON object
    message_id      TEXT    NOT NULL,
    correlation_id  TEXT    NOT NULL,
    causation_id    TEXT    NOT NULL,
    recorded_at     REAL    NOT NULL,
    UNIQUE (stream_id, version)
);
CREATE INDEX IF NOT EXISTS events_correlation ON events (correlation_id);

CREATE TABLE IF NOT EXISTS snapshots (
    stream_id   TEXT PRIMARY KEY,
    version     INTEGER NOT NULL,      -- the stream version the state includes
    state       TEXT    NOT NULL,      -- JSON object
    taken_at    REAL    NOT NULL
);

-- Commands already handled, by idempotency key: a redelivered command returns the
-- stored result instead of acting twice. Written in the same transaction as the events.
CREATE TABLE IF NOT EXISTS processed_commands (
    idempotency_key TEXT PRIMARY KEY,
    stream_id       TEXT NOT NULL,
    result          TEXT NOT NULL,     -- JSON object
    processed_at    REAL NOT NULL
);

CREATE TABLE IF NOT EXISTS saga_executions (
    saga_id         TEXT PRIMARY KEY,
    saga_name       TEXT    NOT NULL,
    state           TEXT    NOT NULL,  -- running | waiting | compensating | completed |
                                       -- compensated | compensation_failed | stalled
    step_index      INTEGER NOT NULL,  -- next forward step, or step being compensated
    steps_total     INTEGER NOT NULL,
    steps_completed INTEGER NOT NULL DEFAULT 0,
    pivot_index     INTEGER,           -- NULL: no pivot
    data            TEXT    NOT NULL,  -- JSON: input plus step results, as of the last change of state
    correlation_id  TEXT    NOT NULL,
    causation_id    TEXT    NOT NULL,
    started_at      REAL    NOT NULL,
    updated_at      REAL    NOT NULL,
    deadline_at     REAL    NOT NULL,
    ended_at        REAL,
    error           TEXT,
    definition_version TEXT NOT NULL DEFAULT ''  -- the plan it started on ('': none)
);
CREATE INDEX IF NOT EXISTS saga_executions_state ON saga_executions (state);
CREATE INDEX IF NOT EXISTS saga_executions_correlation ON saga_executions (correlation_id);

CREATE TABLE IF NOT EXISTS saga_step_log (
    -- The rowid, not AUTOINCREMENT: step-log rows are never deleted, so the next rowid
    -- is always past every row (in the write transaction), and AUTOINCREMENT would
    -- rewrite its sqlite_sequence row at every insert. Stores made with AUTOINCREMENT
    -- keep it, and work the same.
    seq             INTEGER PRIMARY KEY,  -- order of transitions
    saga_id         TEXT    NOT NULL,
    step_index      INTEGER NOT NULL,
    step_name       TEXT    NOT NULL,
    phase           TEXT    NOT NULL,  -- forward | compensation
    status          TEXT    NOT NULL,  -- started | succeeded | failed | waiting
    attempt         INTEGER NOT NULL,
    compensatable   INTEGER NOT NULL DEFAULT 1,  -- 1 when the step has a compensation
    idempotency_key TEXT    NOT NULL,  -- saga_id:step_index:phase:attempt
    started_at      REAL    NOT NULL,
    ended_at        REAL,
    latency_ms      REAL,
    error           TEXT,
    result          TEXT,              -- JSON object, on success
    correlation_id  TEXT    NOT NULL,
    causation_id    TEXT    NOT NULL
);
-- A saga's rows by step, and one row per attempt and status: a batch replayed after a
-- lost commit acknowledgement inserts nothing twice (the insert is ON CONFLICT DO
-- NOTHING; the key names its saga and step). One index for both: every index of the
-- table is one more page written per row at each commit.
CREATE UNIQUE INDEX IF NOT EXISTS saga_step_log_attempts
    ON saga_step_log (saga_id, step_index, idempotency_key, status);
-- Stores created before it had the two it replaces.
DROP INDEX IF EXISTS saga_step_log_saga;
DROP INDEX IF EXISTS saga_step_log_once;

CREATE TABLE IF NOT EXISTS dead_letters (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    kind            TEXT    NOT NULL,  -- compensation | message
    saga_id         TEXT,
    step_index      INTEGER,
    step_name       TEXT,
    target          TEXT,              -- actor address or recipient
    payload         TEXT    NOT NULL,  -- JSON
    error           TEXT    NOT NULL,
    attempts        INTEGER NOT NULL,
    status          TEXT    NOT NULL,  -- parked | redrive_requested | redriven | resolved
    correlation_id  TEXT    NOT NULL,
    causation_id    TEXT    NOT NULL,
    created_at      REAL    NOT NULL,
    updated_at      REAL    NOT NULL
);
-- A dead letter is written once per failure: a replayed batch finds it by this key.
CREATE UNIQUE INDEX IF NOT EXISTS dead_letters_once
    ON dead_letters (kind, correlation_id, causation_id, step_index, created_at);

CREATE TABLE IF NOT EXISTS actor_message_log (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id      TEXT    NOT NULL,
    actor           TEXT    NOT NULL,  -- actor address, e.g. 'kitchen.ticket'
    message_name    TEXT    NOT NULL,
    correlation_id  TEXT,              -- NULL is a defect the validator reports
    causation_id    TEXT,
    received_at     REAL    NOT NULL,
    handled_ms      REAL    NOT NULL,
    outcome         TEXT    NOT NULL,  -- ok | rejected | error
    error           TEXT
);

-- Work done on external systems through the bundled sandbox gateways (one row per
-- resource), keyed by idempotency key so a redelivered call acts once.
CREATE TABLE IF NOT EXISTS external_calls (
    idempotency_key TEXT PRIMARY KEY,
    system          TEXT NOT NULL,
    operation       TEXT NOT NULL,
    resource_id     TEXT NOT NULL,
    status          TEXT NOT NULL,     -- done | running | undone | cancelled | completed
    request         TEXT NOT NULL,     -- JSON
    response        TEXT NOT NULL,     -- JSON
    correlation_id  TEXT NOT NULL,
    causation_id    TEXT NOT NULL,
    created_at      REAL NOT NULL,
    updated_at      REAL NOT NULL
);

CREATE TABLE IF NOT EXISTS consistency_validations (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    system              TEXT    NOT NULL,
    profile             TEXT    NOT NULL,  -- dev | prod
    validated_at        REAL    NOT NULL,
    sagas_total         INTEGER NOT NULL,
    success_rate        REAL    NOT NULL,  -- 0..1
    step_latency_p95_ms REAL    NOT NULL,
    step_latency_p99_ms REAL    NOT NULL,
    consistency_score   REAL    NOT NULL,  -- 0..1
    passed              INTEGER NOT NULL,  -- 1 when every gate passed
    report              TEXT    NOT NULL   -- JSON report
);

-- Alerts for an operator (see sagacrew.runtime.saga.Alert): written in the same
-- transaction as the saga transition that raises them, delivered to the configured
-- sinks at least once, and re-delivered after a restart while delivered_at is NULL.
CREATE TABLE IF NOT EXISTS alerts (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    kind                TEXT    NOT NULL,  -- compensation_failed | stalled | unknown_outcome |
                                           -- driver_failed | ... (see Alert)
    saga_id             TEXT    NOT NULL,  -- '' when the alert concerns no saga
    saga_name           TEXT    NOT NULL,
    step_name           TEXT    NOT NULL,  -- '' when the alert concerns no step
    error               TEXT    NOT NULL,  -- what is wrong and what to do
    correlation_id      TEXT    NOT NULL,
    dead_letter_id      INTEGER,           -- the parked compensation (compensation_failed)
    stream_id           TEXT,              -- the stream concerned (a quarantined stream)
    raised_at           REAL    NOT NULL,
    delivered_at        REAL,              -- NULL until every sink took it
    delivery_attempts   INTEGER NOT NULL DEFAULT 0,
    last_delivery_error TEXT               -- why the last failed delivery failed
);
-- An alert is written once: a replayed batch (lost commit acknowledgement) or the same
-- alert recorded again finds it by this key (stream_id NULL counts as '').
CREATE UNIQUE INDEX IF NOT EXISTS alerts_once
    ON alerts (kind, correlation_id, saga_id, step_name, (COALESCE(stream_id, '')), raised_at);
CREATE INDEX IF NOT EXISTS alerts_undelivered ON alerts (delivered_at, id);

-- Workers (more than one process over one PostgreSQL): the lease a worker holds on a saga
-- it drives. A worker claims sagas in flight with no lease or an expired one (generation
-- + 1: the fencing token), renews its leases by heartbeat, and writes each transition
-- only while its generation is the lease's (see LeaseRecorder).
CREATE TABLE IF NOT EXISTS saga_leases (
    saga_id     TEXT PRIMARY KEY,
    owner       TEXT    NOT NULL,  -- the worker's id
    generation  BIGINT  NOT NULL,  -- bumped by every claim: a fencing token
    expires_at  REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS saga_leases_owner ON saga_leases (owner);

-- Workers: a completion event received by a worker that does not drive its saga waits
-- here until the saga's owner takes it (every poll), delivers it, and removes it.
CREATE TABLE IF NOT EXISTS saga_inbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    correlation_id  TEXT    NOT NULL,
    event_name      TEXT    NOT NULL,
    payload         TEXT    NOT NULL,  -- JSON object
    received_at     REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS saga_inbox_correlation ON saga_inbox (correlation_id);

-- Workers: what each worker reported at its last heartbeat (and when it stopped), for the
-- status API and /metrics of the processes in front of them.
CREATE TABLE IF NOT EXISTS saga_workers (
    worker_id       TEXT PRIMARY KEY,
    lease_s         REAL NOT NULL,
    started_at      REAL NOT NULL,
    seen_at         REAL NOT NULL,
    stopped_at      REAL,            -- NULL: running (or died without stopping)
    claimed         BIGINT NOT NULL,
    leases_lost     BIGINT NOT NULL,
    writes_refused  BIGINT NOT NULL,
    driving         BIGINT NOT NULL,
    actors_epoch    BIGINT NOT NULL DEFAULT 0  -- the actor restarts it has done (rollback)
);

-- Switches every process reads: 'paused' ('true'/'false') refuses new sagas cluster-wide.
CREATE TABLE IF NOT EXISTS saga_controls (
    name    TEXT PRIMARY KEY,
    value   TEXT NOT NULL,
    set_at  REAL NOT NULL
);
