-- +goose Up
-- "Freeze the winner": an editor sends all non-holdout traffic of a bandit
-- split to one variant.
CREATE TABLE split_freezes (
    journey_id  TEXT NOT NULL REFERENCES journeys(id) ON DELETE CASCADE,
    node_id     TEXT NOT NULL,
    variant     TEXT NOT NULL,
    frozen_by   TEXT NOT NULL DEFAULT '',
    frozen_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (journey_id, node_id)
);

-- +goose Down
DROP TABLE split_freezes;
