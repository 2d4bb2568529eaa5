-- +goose Up
-- Email engagement tracking (docs/engagement.md): per delivery, the first
-- human open and click (unique counts without scanning events) and how many
-- hits people and machines made; per link of a delivery, its clicks.
CREATE TABLE delivery_engagement (
    delivery_id         TEXT PRIMARY KEY REFERENCES deliveries(id) ON DELETE CASCADE,
    workspace_id        TEXT NOT NULL,
    journey_id          TEXT NOT NULL DEFAULT '',
    node_id             TEXT NOT NULL DEFAULT '',
    first_opened_at     TIMESTAMPTZ NULL, -- first human open, or a human click's implied open
    first_clicked_at    TIMESTAMPTZ NULL, -- first human click
    machine_opened_at   TIMESTAMPTZ NULL, -- first machine open (Apple MPP, scanners)
    opens               INTEGER NOT NULL DEFAULT 0, -- human opens
    clicks              INTEGER NOT NULL DEFAULT 0, -- human clicks
    machine_opens       INTEGER NOT NULL DEFAULT 0,
    machine_clicks      INTEGER NOT NULL DEFAULT 0,
    updated_at          TIMESTAMPTZ NOT NULL
);
CREATE INDEX delivery_engagement_journey_idx ON delivery_engagement (workspace_id, journey_id, node_id);

CREATE TABLE delivery_link_clicks (
    delivery_id         TEXT NOT NULL REFERENCES deliveries(id) ON DELETE CASCADE,
    link_index          INTEGER NOT NULL,
    first_clicked_at    TIMESTAMPTZ NULL, -- first human click
    machine_clicked_at  TIMESTAMPTZ NULL, -- first machine click
    clicks              INTEGER NOT NULL DEFAULT 0, -- human clicks
    machine_clicks      INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (delivery_id, link_index)
);

-- +goose Down
DROP TABLE delivery_link_clicks;
DROP TABLE delivery_engagement;
