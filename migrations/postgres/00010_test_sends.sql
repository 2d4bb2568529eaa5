-- +goose Up
-- Test sends (issue 10): one action node's message sent to a chosen address
-- through its real connector. Kept apart from deliveries so analytics, caps
-- and reports never count them.
CREATE TABLE test_sends (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id),
    journey_id   TEXT NOT NULL REFERENCES journeys(id) ON DELETE CASCADE,
    version      INTEGER NOT NULL,            -- 0: the draft
    node_id      TEXT NOT NULL,
    kind         TEXT NOT NULL,
    connector    TEXT NOT NULL,
    recipient    TEXT NOT NULL,
    profile_external_id TEXT NOT NULL DEFAULT '', -- '' : a sample profile
    subject      TEXT NOT NULL DEFAULT '',
    body         TEXT NOT NULL DEFAULT '',
    status       TEXT NOT NULL,               -- sent, delivered, failed
    provider_id  TEXT NOT NULL DEFAULT '',
    error        TEXT NOT NULL DEFAULT '',
    sent_by      TEXT NOT NULL DEFAULT '',
    created_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX test_sends_journey_idx ON test_sends (journey_id, created_at);

-- +goose Down
DROP TABLE test_sends;
