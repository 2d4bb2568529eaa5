-- +goose Up
-- Connectors: provider status callbacks find their delivery by the
-- provider's message id.
CREATE INDEX deliveries_provider_idx ON deliveries (workspace_id, provider_id) WHERE provider_id <> '';

-- +goose Down
DROP INDEX deliveries_provider_idx;
