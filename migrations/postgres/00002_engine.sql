-- +goose Up
-- Execution engine: per-profile entry accounting, run scheduling, deliveries by connector name.

-- One row per (journey, profile): entry counts and the active run, updated
-- under a conditional UPDATE so re-entry rules hold under concurrency.
CREATE TABLE journey_profiles (
    journey_id       TEXT NOT NULL REFERENCES journeys(id) ON DELETE CASCADE,
    profile_id       TEXT NOT NULL REFERENCES profiles(id) ON DELETE CASCADE,
    entries          INTEGER NOT NULL DEFAULT 0,
    active_run_id    TEXT NOT NULL DEFAULT '',
    last_entered_at  TIMESTAMPTZ,
    PRIMARY KEY (journey_id, profile_id)
);

-- Total entries per journey (entry_limit.total).
CREATE TABLE journey_counters (
    journey_id  TEXT PRIMARY KEY REFERENCES journeys(id) ON DELETE CASCADE,
    entries     BIGINT NOT NULL DEFAULT 0
);

-- When the run's next task must run; the reconciler re-enqueues overdue runs.
ALTER TABLE runs ADD COLUMN next_due_at TIMESTAMPTZ;
ALTER TABLE runs ADD COLUMN steps INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN port TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN converted_at TIMESTAMPTZ;
ALTER TABLE runs ADD COLUMN conversion_value DOUBLE PRECISION NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN conversion_path TEXT NOT NULL DEFAULT '';
CREATE INDEX runs_conversion_idx ON runs (profile_id, journey_id, entered_at);
CREATE INDEX runs_next_due_idx ON runs (next_due_at) WHERE next_due_at IS NOT NULL;
CREATE INDEX runs_waiting_event_idx ON runs (profile_id, wait_event) WHERE status = 'waiting_event';

ALTER TABLE deliveries ADD COLUMN connector TEXT NOT NULL DEFAULT '';
ALTER TABLE deliveries ADD COLUMN profile_id TEXT NOT NULL DEFAULT '';
CREATE INDEX deliveries_connector_idx ON deliveries (workspace_id, connector, created_at);
CREATE INDEX deliveries_profile_idx ON deliveries (profile_id, channel, created_at);

-- +goose Down
DROP INDEX deliveries_profile_idx;
DROP INDEX deliveries_connector_idx;
ALTER TABLE deliveries DROP COLUMN profile_id;
ALTER TABLE deliveries DROP COLUMN connector;
DROP INDEX runs_waiting_event_idx;
DROP INDEX runs_next_due_idx;
DROP INDEX runs_conversion_idx;
ALTER TABLE runs DROP COLUMN conversion_path;
ALTER TABLE runs DROP COLUMN conversion_value;
ALTER TABLE runs DROP COLUMN converted_at;
ALTER TABLE runs DROP COLUMN port;
ALTER TABLE runs DROP COLUMN steps;
ALTER TABLE runs DROP COLUMN next_due_at;
DROP TABLE journey_counters;
DROP TABLE journey_profiles;
