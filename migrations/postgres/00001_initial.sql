-- +goose Up
-- Waymark initial schema (PostgreSQL). Mirrors sqlite/00001_initial.sql.

CREATE TABLE workspaces (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE users (
    id             TEXT PRIMARY KEY,
    workspace_id   TEXT NOT NULL REFERENCES workspaces(id),
    email          TEXT NOT NULL,
    name           TEXT NOT NULL DEFAULT '',
    password_hash  TEXT NOT NULL,
    role           TEXT NOT NULL CHECK (role IN ('admin', 'editor', 'viewer')),
    disabled_at    TIMESTAMPTZ,
    last_login_at  TIMESTAMPTZ,
    created_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX users_email_key ON users (email);
CREATE INDEX users_workspace_idx ON users (workspace_id);

CREATE TABLE sessions (
    id            TEXT PRIMARY KEY,              -- SHA-256 of the cookie token, hex
    user_id       TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    workspace_id  TEXT NOT NULL REFERENCES workspaces(id),
    csrf_token    TEXT NOT NULL,
    ip            TEXT NOT NULL DEFAULT '',
    user_agent    TEXT NOT NULL DEFAULT '',
    created_at    TIMESTAMPTZ NOT NULL,
    last_seen_at  TIMESTAMPTZ NOT NULL,
    expires_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX sessions_user_idx ON sessions (user_id);
CREATE INDEX sessions_expires_idx ON sessions (expires_at);

CREATE TABLE api_keys (
    id            TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL REFERENCES workspaces(id),
    name          TEXT NOT NULL,
    prefix        TEXT NOT NULL,                 -- first characters, shown in lists
    key_hash      TEXT NOT NULL,                 -- SHA-256 of the whole key, hex
    scopes        TEXT NOT NULL,                 -- space-separated
    created_by    TEXT NOT NULL DEFAULT '',
    created_at    TIMESTAMPTZ NOT NULL,
    last_used_at  TIMESTAMPTZ,
    expires_at    TIMESTAMPTZ,
    revoked_at    TIMESTAMPTZ
);
CREATE UNIQUE INDEX api_keys_hash_key ON api_keys (key_hash);
CREATE INDEX api_keys_workspace_idx ON api_keys (workspace_id);

CREATE TABLE journeys (
    id              TEXT PRIMARY KEY,
    workspace_id    TEXT NOT NULL REFERENCES workspaces(id),
    name            TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('draft', 'live', 'paused', 'archived')),
    draft           JSONB NOT NULL,
    draft_revision  INTEGER NOT NULL DEFAULT 1,
    live_version    INTEGER,
    hook_key        TEXT,
    created_by      TEXT NOT NULL DEFAULT '',
    updated_by      TEXT NOT NULL DEFAULT '',
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX journeys_workspace_idx ON journeys (workspace_id, status);
CREATE UNIQUE INDEX journeys_hook_key ON journeys (hook_key);

CREATE TABLE journey_versions (
    journey_id    TEXT NOT NULL REFERENCES journeys(id) ON DELETE CASCADE,
    version       INTEGER NOT NULL,
    document      JSONB NOT NULL,
    published_by  TEXT NOT NULL DEFAULT '',
    published_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (journey_id, version)
);

CREATE TABLE profiles (
    id            TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL REFERENCES workspaces(id),
    external_id   TEXT NOT NULL,
    email         TEXT NOT NULL DEFAULT '',
    phone         TEXT NOT NULL DEFAULT '',
    timezone      TEXT NOT NULL DEFAULT '',
    locale        TEXT NOT NULL DEFAULT '',
    attributes    JSONB NOT NULL DEFAULT '{}',
    consent       JSONB NOT NULL DEFAULT '{}',
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL,
    erased_at     TIMESTAMPTZ
);
CREATE UNIQUE INDEX profiles_external_key ON profiles (workspace_id, external_id);
CREATE INDEX profiles_email_idx ON profiles (workspace_id, email);

CREATE TABLE events (
    id               TEXT PRIMARY KEY,
    workspace_id     TEXT NOT NULL REFERENCES workspaces(id),
    profile_id       TEXT NOT NULL REFERENCES profiles(id) ON DELETE CASCADE,
    name             TEXT NOT NULL,
    properties       JSONB NOT NULL DEFAULT '{}',
    occurred_at      TIMESTAMPTZ NOT NULL,
    received_at      TIMESTAMPTZ NOT NULL,
    idempotency_key  TEXT
);
CREATE INDEX events_profile_idx ON events (profile_id, name, occurred_at);
CREATE UNIQUE INDEX events_idempotency_key ON events (workspace_id, idempotency_key);

CREATE TABLE runs (
    id             TEXT PRIMARY KEY,
    workspace_id   TEXT NOT NULL REFERENCES workspaces(id),
    journey_id     TEXT NOT NULL REFERENCES journeys(id),
    version        INTEGER NOT NULL,
    profile_id     TEXT NOT NULL REFERENCES profiles(id),
    status         TEXT NOT NULL CHECK (status IN ('active', 'waiting', 'waiting_event', 'paused', 'completed', 'exited', 'failed')),
    current_node   TEXT NOT NULL DEFAULT '',
    sequence       INTEGER NOT NULL DEFAULT 0,
    wait_until     TIMESTAMPTZ,
    wait_event     TEXT NOT NULL DEFAULT '',
    entry_event    JSONB NOT NULL DEFAULT '{}',
    state          JSONB NOT NULL DEFAULT '{}',
    error          TEXT NOT NULL DEFAULT '',
    entered_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL,
    finished_at    TIMESTAMPTZ
);
CREATE INDEX runs_journey_idx ON runs (journey_id, status);
CREATE INDEX runs_profile_idx ON runs (profile_id, journey_id);
CREATE INDEX runs_due_idx ON runs (status, wait_until);

CREATE TABLE run_steps (
    run_id       TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    sequence     INTEGER NOT NULL,
    node_id      TEXT NOT NULL,
    kind         TEXT NOT NULL,
    port         TEXT NOT NULL DEFAULT '',
    outcome      TEXT NOT NULL,
    detail       JSONB NOT NULL DEFAULT '{}',
    started_at   TIMESTAMPTZ NOT NULL,
    finished_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (run_id, sequence)
);
CREATE INDEX run_steps_node_idx ON run_steps (node_id, outcome);

CREATE TABLE outbox (
    id           BIGSERIAL PRIMARY KEY,
    run_id       TEXT NOT NULL,
    sequence     INTEGER NOT NULL,
    task_type    TEXT NOT NULL,
    queue        TEXT NOT NULL DEFAULT 'default',
    process_at   TIMESTAMPTZ NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    enqueued_at  TIMESTAMPTZ
);
CREATE UNIQUE INDEX outbox_run_seq_key ON outbox (run_id, sequence, task_type);
CREATE INDEX outbox_pending_idx ON outbox (enqueued_at, process_at);

CREATE TABLE connectors (
    id            TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL REFERENCES workspaces(id),
    name          TEXT NOT NULL,
    type          TEXT NOT NULL,
    config        JSONB NOT NULL DEFAULT '{}',   -- non-secret fields
    secrets       JSONB NOT NULL DEFAULT '{}',   -- field -> {key_id, ciphertext}
    enabled       BOOLEAN NOT NULL DEFAULT TRUE,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX connectors_name_key ON connectors (workspace_id, name);

CREATE TABLE deliveries (
    id               TEXT PRIMARY KEY,
    workspace_id     TEXT NOT NULL REFERENCES workspaces(id),
    run_id           TEXT NOT NULL DEFAULT '',
    sequence         INTEGER NOT NULL DEFAULT 0,
    node_id          TEXT NOT NULL DEFAULT '',
    idempotency_key  TEXT NOT NULL,
    connector_id     TEXT NOT NULL DEFAULT '',
    channel          TEXT NOT NULL,
    recipient        TEXT NOT NULL DEFAULT '',
    subject          TEXT NOT NULL DEFAULT '',
    body             TEXT NOT NULL DEFAULT '',
    payload          JSONB NOT NULL DEFAULT '{}',
    status           TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'delivered', 'failed', 'unknown', 'suppressed', 'skipped')),
    provider_id      TEXT NOT NULL DEFAULT '',
    error            TEXT NOT NULL DEFAULT '',
    attempts         INTEGER NOT NULL DEFAULT 0,
    is_test          BOOLEAN NOT NULL DEFAULT FALSE,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX deliveries_idempotency_key ON deliveries (idempotency_key);
CREATE INDEX deliveries_run_idx ON deliveries (run_id);
CREATE INDEX deliveries_workspace_idx ON deliveries (workspace_id, connector_id, created_at);

CREATE TABLE suppressions (
    workspace_id  TEXT NOT NULL REFERENCES workspaces(id),
    channel       TEXT NOT NULL,
    address       TEXT NOT NULL,
    reason        TEXT NOT NULL,
    source        TEXT NOT NULL DEFAULT '',
    created_at    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (workspace_id, channel, address)
);

CREATE TABLE idempotency_keys (
    workspace_id   TEXT NOT NULL REFERENCES workspaces(id),
    key            TEXT NOT NULL,
    request_hash   TEXT NOT NULL,
    state          TEXT NOT NULL CHECK (state IN ('started', 'done')),
    status_code    INTEGER NOT NULL DEFAULT 0,
    response       TEXT NOT NULL DEFAULT '',
    created_at     TIMESTAMPTZ NOT NULL,
    expires_at     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (workspace_id, key)
);
CREATE INDEX idempotency_keys_expires_idx ON idempotency_keys (expires_at);

CREATE TABLE audit_log (
    id            BIGSERIAL PRIMARY KEY,
    workspace_id  TEXT NOT NULL REFERENCES workspaces(id),
    actor_type    TEXT NOT NULL,                 -- user, api_key, system
    actor_id      TEXT NOT NULL DEFAULT '',
    action        TEXT NOT NULL,
    target_type   TEXT NOT NULL DEFAULT '',
    target_id     TEXT NOT NULL DEFAULT '',
    summary       JSONB NOT NULL DEFAULT '{}',
    ip            TEXT NOT NULL DEFAULT '',
    created_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX audit_log_workspace_idx ON audit_log (workspace_id, created_at);

-- +goose Down
DROP TABLE audit_log;
DROP TABLE idempotency_keys;
DROP TABLE suppressions;
DROP TABLE deliveries;
DROP TABLE connectors;
DROP TABLE outbox;
DROP TABLE run_steps;
DROP TABLE runs;
DROP TABLE events;
DROP TABLE profiles;
DROP TABLE journey_versions;
DROP TABLE journeys;
DROP TABLE api_keys;
DROP TABLE sessions;
DROP TABLE users;
DROP TABLE workspaces;
