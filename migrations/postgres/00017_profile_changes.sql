-- +goose Up
-- Profile changes (issue 18): every accepted profile write that changed a
-- field or an attribute leaves a row here, in the same transaction as the
-- profile, naming what changed ({"plan": {"old": "trial", "new": "pro"}}).
-- The engine consumes the rows (attribute triggers, segment entry) and
-- deletes them; a row left behind by a crash is found by the leader's
-- pass, so an accepted change is never lost.
CREATE TABLE profile_changes (
    id            BIGSERIAL PRIMARY KEY,
    workspace_id  TEXT NOT NULL,
    profile_id    TEXT NOT NULL REFERENCES profiles(id) ON DELETE CASCADE,
    source        TEXT NOT NULL DEFAULT '',
    journey_id    TEXT NOT NULL DEFAULT '',
    run_id        TEXT NOT NULL DEFAULT '',
    depth         INTEGER NOT NULL DEFAULT 0,
    changes       JSONB NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX profile_changes_profile_idx ON profile_changes (profile_id, id);
CREATE INDEX profile_changes_created_idx ON profile_changes (created_at);

-- +goose Down
DROP TABLE profile_changes;
