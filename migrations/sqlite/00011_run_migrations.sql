-- +goose Up
-- Migration planner and rollback (issue 10). One row per publish that went
-- through the planner: which version was live before (what a rollback
-- restores), whether it was a rollback, and how many runs moved or exited.
CREATE TABLE journey_publishes (
    journey_id        TEXT NOT NULL REFERENCES journeys(id) ON DELETE CASCADE,
    version           INTEGER NOT NULL,
    previous_version  INTEGER NOT NULL DEFAULT 0,  -- 0: first publish
    rollback_of       INTEGER NOT NULL DEFAULT 0,  -- the version rolled back, for a rollback
    moved             INTEGER NOT NULL DEFAULT 0,
    exited            INTEGER NOT NULL DEFAULT 0,
    plan              TEXT NOT NULL DEFAULT '{}',  -- JSON: node id -> {action, to}
    published_by      TEXT NOT NULL DEFAULT '',
    published_at      DATETIME NOT NULL,
    PRIMARY KEY (journey_id, version)
);

-- The planner counts and pages a version's runs by node.
CREATE INDEX runs_version_node_idx ON runs (journey_id, version, current_node, status);

-- +goose Down
DROP INDEX runs_version_node_idx;
DROP TABLE journey_publishes;
