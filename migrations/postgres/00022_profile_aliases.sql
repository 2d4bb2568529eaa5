-- +goose Up
-- CDP-compatible intake (Segment spec, docs/cdp.md): an anonymousId that
-- was identified points to the profile it merged into, so later calls that
-- carry only that anonymousId land on the identified profile
-- (store/profile_merge.go).
CREATE TABLE profile_aliases (
    workspace_id  TEXT NOT NULL REFERENCES workspaces(id),
    anonymous_id  TEXT NOT NULL,
    profile_id    TEXT NOT NULL REFERENCES profiles(id) ON DELETE CASCADE,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (workspace_id, anonymous_id)
);
CREATE INDEX profile_aliases_profile_idx ON profile_aliases (profile_id);

-- +goose Down
DROP TABLE profile_aliases;
