-- +goose Up
-- Connecting a trigger from the editor (issue 21, docs/editor.md).
--
-- The event trigger's panel lists the event names a workspace has seen
-- (store/event_names.go): a skip scan over this index finds each distinct
-- name with one probe, and its latest received_at with another, however
-- many events there are.
CREATE INDEX events_workspace_name_idx ON events (workspace_id, name, received_at);

-- "Listen for a test request" on a webhook trigger: while someone listens
-- (listen_until), the requests to the journey's hook are kept here with what the
-- sender was answered, for an hour at most (store/hook_samples.go).
CREATE TABLE hook_listens (
    journey_id  TEXT PRIMARY KEY REFERENCES journeys(id) ON DELETE CASCADE,
    listen_until TIMESTAMPTZ NOT NULL
);

CREATE TABLE hook_samples (
    id           TEXT PRIMARY KEY,
    journey_id   TEXT NOT NULL REFERENCES journeys(id) ON DELETE CASCADE,
    received_at  TIMESTAMPTZ NOT NULL,
    status       INTEGER NOT NULL,          -- the HTTP status the sender got
    code         TEXT NOT NULL DEFAULT '',  -- the error code, if any
    message      TEXT NOT NULL DEFAULT '',
    run_id       TEXT NOT NULL DEFAULT '',
    verified     BOOLEAN NOT NULL,          -- the signature matched; else no body is kept
    body         TEXT NOT NULL DEFAULT '',
    body_size    INTEGER NOT NULL DEFAULT 0 -- bytes received; the body is kept up to a limit
);
CREATE INDEX hook_samples_journey_idx ON hook_samples (journey_id, received_at);
CREATE INDEX hook_samples_received_idx ON hook_samples (received_at);

-- +goose Down
DROP TABLE hook_samples;
DROP TABLE hook_listens;
DROP INDEX events_workspace_name_idx;
