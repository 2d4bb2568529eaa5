-- +goose Up
-- Test-send quota (issue 17, F11): who sent a test (user:<id> or
-- api_key:<id>), so a window of test sends can be counted per actor and
-- per workspace; a reservation row exists while the send is in flight.
ALTER TABLE test_sends ADD COLUMN actor_id TEXT NOT NULL DEFAULT '';
CREATE INDEX test_sends_workspace_idx ON test_sends (workspace_id, created_at);

-- +goose Down
DROP INDEX test_sends_workspace_idx;
ALTER TABLE test_sends DROP COLUMN actor_id;
