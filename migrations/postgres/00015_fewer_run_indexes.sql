-- +goose Up
-- Every run entry and every step that changes a run's status or node
-- updates each index of runs (such updates are never HOT). Two of them
-- served no query of their own: runs_profile_idx (profile_id, journey_id)
-- is the leading part of runs_conversion_idx (profile_id, journey_id,
-- entered_at), and nothing filters runs by wait_until (timers are found by
-- next_due_at, runs_next_due_idx). docs/performance.md.
DROP INDEX runs_profile_idx;
DROP INDEX runs_due_idx;

-- +goose Down
CREATE INDEX runs_profile_idx ON runs (profile_id, journey_id);
CREATE INDEX runs_due_idx ON runs (status, wait_until);
