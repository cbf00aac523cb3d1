-- Browser sessions and logins in progress. Only hashes of the cookie value and of the OIDC `state` are
-- kept, so that a copy of these tables cannot be replayed as a login.

CREATE TABLE sessions (
    -- Lower-case hex SHA-256 of the cookie value.
    id_hash text PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    origin text NOT NULL,
    created_at timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    -- The absolute deadline; the idle deadline is last_seen_at plus the configured idle timeout.
    expires_at timestamptz NOT NULL,
    ended_at timestamptz,
    client_addr text,
    user_agent text,
    -- The provider's ID token, kept only for RP-initiated logout (id_token_hint).
    id_token_hint text,
    CONSTRAINT sessions_id_hash_hex CHECK (id_hash ~ '^[0-9a-f]{64}$'),
    CONSTRAINT sessions_origin_known CHECK (origin IN ('oidc', 'development')),
    CONSTRAINT sessions_deadline_after_start CHECK (expires_at > created_at)
);

CREATE INDEX sessions_user ON sessions (user_id) WHERE ended_at IS NULL;
CREATE INDEX sessions_expires ON sessions (expires_at);

-- An OIDC login between the redirect to the provider and its callback; taken (deleted) once.
CREATE TABLE login_states (
    -- Lower-case hex SHA-256 of the `state` parameter.
    state_hash text PRIMARY KEY,
    nonce text NOT NULL,
    pkce_verifier text NOT NULL,
    return_to text NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    CONSTRAINT login_states_state_hash_hex CHECK (state_hash ~ '^[0-9a-f]{64}$'),
    CONSTRAINT login_states_return_to_relative CHECK (return_to ~ '^/([^/\\]|$)')
);

CREATE INDEX login_states_expires ON login_states (expires_at);
