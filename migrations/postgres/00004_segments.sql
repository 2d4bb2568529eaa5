-- +goose Up
-- Segment and schedule triggers, CSV imports.

-- Who matches a journey's segment trigger right now: a profile enters when
-- a row is inserted (it started matching); the row goes when it stops.
CREATE TABLE segment_members (
    journey_id  TEXT NOT NULL REFERENCES journeys(id) ON DELETE CASCADE,
    node_id     TEXT NOT NULL,
    profile_id  TEXT NOT NULL REFERENCES profiles(id) ON DELETE CASCADE,
    matched_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (journey_id, node_id, profile_id)
);
CREATE INDEX segment_members_profile_idx ON segment_members (profile_id);

-- One row per segment sweep or schedule tick: the unique key makes a tick
-- run once, the cursor lets a new leader resume it, the counters are the
-- progress the UI and API show.
CREATE TABLE trigger_runs (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id),
    journey_id   TEXT NOT NULL REFERENCES journeys(id) ON DELETE CASCADE,
    node_id      TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('sweep', 'schedule')),
    tick_at      TIMESTAMPTZ NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed')),
    cursor       TEXT NOT NULL DEFAULT '',
    scanned      BIGINT NOT NULL DEFAULT 0,
    matched      BIGINT NOT NULL DEFAULT 0,
    entered      BIGINT NOT NULL DEFAULT 0,
    refused      BIGINT NOT NULL DEFAULT 0,
    error        TEXT NOT NULL DEFAULT '',
    started_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL,
    finished_at  TIMESTAMPTZ
);
CREATE UNIQUE INDEX trigger_runs_tick_key ON trigger_runs (journey_id, node_id, tick_at);
CREATE INDEX trigger_runs_journey_idx ON trigger_runs (journey_id, started_at);

-- CSV imports of profiles: progress and the per-row error report.
CREATE TABLE profile_imports (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id),
    filename     TEXT NOT NULL DEFAULT '',
    status       TEXT NOT NULL CHECK (status IN ('staged', 'running', 'done', 'failed')),
    source       TEXT NOT NULL DEFAULT '',  -- the uploaded CSV until the import ends
    mapping      TEXT NOT NULL DEFAULT '{}',
    total_rows   BIGINT NOT NULL DEFAULT 0,
    processed    BIGINT NOT NULL DEFAULT 0,
    imported     BIGINT NOT NULL DEFAULT 0,
    failed       BIGINT NOT NULL DEFAULT 0,
    errors       TEXT NOT NULL DEFAULT '[]',
    error        TEXT NOT NULL DEFAULT '',
    created_by   TEXT NOT NULL DEFAULT '',
    started_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL,
    finished_at  TIMESTAMPTZ
);
CREATE INDEX profile_imports_workspace_idx ON profile_imports (workspace_id, started_at);

-- +goose Down
DROP TABLE profile_imports;
DROP TABLE trigger_runs;
DROP TABLE segment_members;
