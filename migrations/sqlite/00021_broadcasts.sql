-- +goose Up
-- Broadcasts (issue 22, docs/broadcasts.md): a one-off send of one message
-- to an audience, run as a system-managed journey (journey_id) whose
-- trigger is a schedule in mode "once"; this row is what the broadcasts
-- pages and API list, with the status the journey alone cannot say
-- (scheduled, cancelled, done).
CREATE TABLE broadcasts (
    id            TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL REFERENCES workspaces(id),
    name          TEXT NOT NULL,
    journey_id    TEXT NOT NULL REFERENCES journeys(id),
    status        TEXT NOT NULL CHECK (status IN ('draft', 'scheduled', 'sending', 'done', 'cancelled')),
    channel       TEXT NOT NULL,
    connector     TEXT NOT NULL,
    audience      TEXT NOT NULL,
    scheduled_at  DATETIME NOT NULL,
    created_by    TEXT NOT NULL DEFAULT '',
    cancelled_by  TEXT NOT NULL DEFAULT '',
    created_at    DATETIME NOT NULL,
    updated_at    DATETIME NOT NULL,
    finished_at   DATETIME
);
CREATE INDEX broadcasts_workspace_idx ON broadcasts (workspace_id, id);
CREATE UNIQUE INDEX broadcasts_journey_idx ON broadcasts (journey_id);

-- +goose Down
DROP TABLE broadcasts;
