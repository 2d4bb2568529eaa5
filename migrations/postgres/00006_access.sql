-- +goose Up
-- Users and access: sign-in attempts (rate limiting and lockout that hold
-- across processes) and one-time user links (invitations, password resets).

CREATE TABLE login_attempts (
    id          BIGSERIAL PRIMARY KEY,
    email       TEXT NOT NULL,                 -- normalised; may name no user
    ip          TEXT NOT NULL,
    succeeded   BOOLEAN NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX login_attempts_email_idx ON login_attempts (email, created_at);
CREATE INDEX login_attempts_ip_idx ON login_attempts (ip, created_at);

CREATE TABLE user_tokens (
    id          TEXT PRIMARY KEY,              -- SHA-256 of the link's token, hex
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    purpose     TEXT NOT NULL CHECK (purpose IN ('invite', 'reset')),
    created_by  TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL,
    used_at     TIMESTAMPTZ
);
CREATE INDEX user_tokens_user_idx ON user_tokens (user_id);

CREATE INDEX audit_log_actor_idx ON audit_log (workspace_id, actor_id, id);
CREATE INDEX audit_log_target_idx ON audit_log (workspace_id, target_id, id);

-- +goose Down
DROP INDEX audit_log_target_idx;
DROP INDEX audit_log_actor_idx;
DROP TABLE user_tokens;
DROP TABLE login_attempts;
