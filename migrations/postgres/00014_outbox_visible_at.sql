-- +goose Up
-- An outbox item the relay must leave alone until visible_at (NULL: at
-- once): the safety net of an action step its task runs inline, which only
-- matters once that attempt is certainly over (docs/performance.md).
ALTER TABLE outbox ADD COLUMN visible_at TIMESTAMPTZ;

-- +goose Down
ALTER TABLE outbox DROP COLUMN visible_at;
