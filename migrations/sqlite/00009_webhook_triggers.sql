-- +goose Up
-- Webhook triggers: each journey's signing secrets (sealed with the secret
-- key; two are valid during a rotation) and the webhook-ids already seen.
ALTER TABLE journeys ADD COLUMN hook_scheme TEXT NOT NULL DEFAULT 'standard';

CREATE TABLE journey_hook_secrets (
    id          TEXT PRIMARY KEY,
    journey_id  TEXT NOT NULL REFERENCES journeys(id) ON DELETE CASCADE,
    sealed      TEXT NOT NULL,        -- JSON {key_id, ciphertext}
    created_at  DATETIME NOT NULL,
    expires_at  DATETIME           -- set when a newer secret replaces it
);
CREATE INDEX journey_hook_secrets_journey_idx ON journey_hook_secrets (journey_id, created_at);

CREATE TABLE webhook_receipts (
    journey_id   TEXT NOT NULL REFERENCES journeys(id) ON DELETE CASCADE,
    webhook_id   TEXT NOT NULL,
    run_id       TEXT NOT NULL DEFAULT '',
    received_at  DATETIME NOT NULL,
    PRIMARY KEY (journey_id, webhook_id)
);
CREATE INDEX webhook_receipts_received_idx ON webhook_receipts (received_at);

-- +goose Down
DROP TABLE webhook_receipts;
DROP TABLE journey_hook_secrets;
ALTER TABLE journeys DROP COLUMN hook_scheme;
