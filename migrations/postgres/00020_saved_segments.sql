-- +goose Up
-- Saved segments (issue 22, docs/segments.md): named, reusable audience
-- definitions. expr is the canonical definition (a condition over profile
-- and now); rules is the visual builder's JSON when the segment was built
-- visually ('' when the expression was written by hand), from which expr
-- is generated. Names are unique per workspace: expressions and segment
-- triggers refer to a segment by name.
CREATE TABLE segments (
    id            TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL REFERENCES workspaces(id),
    name          TEXT NOT NULL,
    description   TEXT NOT NULL DEFAULT '',
    expr          TEXT NOT NULL,
    rules         TEXT NOT NULL DEFAULT '',
    created_by    TEXT NOT NULL DEFAULT '',
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX segments_name_key ON segments (workspace_id, name);

-- +goose Down
DROP TABLE segments;
