-- +goose Up
-- Self-optimising split (strategy "bandit"): a counter numbering each split
-- node's entries (the holdout is exact: entry i is held out when
-- floor((i+1)·h/100) > floor(i·h/100)), and each run's sticky assignment
-- with the posterior estimates that decided it.
CREATE TABLE split_counters (
    journey_id  TEXT NOT NULL REFERENCES journeys(id) ON DELETE CASCADE,
    node_id     TEXT NOT NULL,
    entries     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (journey_id, node_id)
);

CREATE TABLE split_assignments (
    run_id       TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    node_id      TEXT NOT NULL,
    journey_id   TEXT NOT NULL REFERENCES journeys(id) ON DELETE CASCADE,
    entry_index  INTEGER NOT NULL,
    variant      TEXT NOT NULL,
    detail       TEXT NOT NULL DEFAULT '{}',
    assigned_at  DATETIME NOT NULL,
    PRIMARY KEY (run_id, node_id)
);
CREATE INDEX split_assignments_node_idx ON split_assignments (journey_id, node_id, variant);

-- +goose Down
DROP TABLE split_assignments;
DROP TABLE split_counters;
