-- keyport's initial schema. The rules that keep the data consistent live here as constraints, so that an
-- illegal state cannot be stored whatever the code does; the adapter maps the named constraints to domain
-- errors (users_username, subscriptions_user_model, api_keys_live_name, api_keys_key_hash).

-- A budget window in LiteLLM's syntax (`30d`, `1mo`), as the domain's BudgetDuration prints it.
CREATE FUNCTION keyport_is_budget_duration(value text) RETURNS boolean
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN value ~ '^[1-9][0-9]{0,5}(s|m|h|d|w|mo)$';

CREATE TABLE users (
    -- Also the user's `user_id` in LiteLLM.
    id uuid PRIMARY KEY,
    -- The OIDC identity; absent for users created by an admin or a command until they first log in.
    issuer text,
    subject text,
    username text NOT NULL,
    email text,
    display_name text,
    roles text[] NOT NULL DEFAULT '{user}',
    status text NOT NULL DEFAULT 'active',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT users_username UNIQUE (username),
    CONSTRAINT users_issuer_subject UNIQUE (issuer, subject),
    CONSTRAINT users_identity_complete CHECK ((issuer IS NULL) = (subject IS NULL)),
    CONSTRAINT users_username_not_blank CHECK (btrim(username) <> ''),
    -- `<@` is false for NULL elements too, so this also refuses `{NULL}`.
    CONSTRAINT users_roles_known CHECK (roles <@ ARRAY['admin', 'auditor', 'user']::text[]),
    CONSTRAINT users_status_known CHECK (status IN ('active', 'suspended'))
);

-- Personal access tokens for the REST API: only the SHA-256 of the secret is kept.
CREATE TABLE access_tokens (
    id uuid PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name text NOT NULL,
    token_prefix text NOT NULL,
    token_hash text NOT NULL,
    scopes text[] NOT NULL DEFAULT '{}',
    expires_at timestamptz,
    last_used_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz,
    CONSTRAINT access_tokens_token_hash UNIQUE (token_hash),
    CONSTRAINT access_tokens_token_hash_hex CHECK (token_hash ~ '^[0-9a-f]{64}$'),
    CONSTRAINT access_tokens_scopes_not_null CHECK (array_position(scopes, NULL) IS NULL)
);

CREATE INDEX access_tokens_user ON access_tokens (user_id);

CREATE TABLE models (
    -- LiteLLM's public model_name; may contain '/'.
    id text PRIMARY KEY,
    provider text,
    display_name text NOT NULL,
    description text,
    capabilities text[] NOT NULL DEFAULT '{}',
    context_window bigint,
    input_price_per_token numeric,
    output_price_per_token numeric,
    availability text NOT NULL DEFAULT 'available',
    -- Subscribing needs an admin's approval.
    restricted boolean NOT NULL DEFAULT false,
    hidden boolean NOT NULL DEFAULT false,
    -- The quota a new subscription gets; NULL means unlimited.
    default_max_budget numeric(18, 6),
    default_budget_duration text,
    default_tpm_limit bigint,
    default_rpm_limit bigint,
    last_synced_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT models_id_not_blank CHECK (btrim(id) <> ''),
    CONSTRAINT models_availability_known CHECK (availability IN ('available', 'unavailable')),
    CONSTRAINT models_capabilities_not_null CHECK (array_position(capabilities, NULL) IS NULL),
    CONSTRAINT models_prices_not_negative
        CHECK (input_price_per_token >= 0 AND output_price_per_token >= 0),
    CONSTRAINT models_default_max_budget_not_negative CHECK (default_max_budget >= 0),
    CONSTRAINT models_default_budget_duration_valid
        CHECK (keyport_is_budget_duration(default_budget_duration)),
    CONSTRAINT models_default_budget_duration_needs_budget
        CHECK (default_budget_duration IS NULL OR default_max_budget IS NOT NULL),
    CONSTRAINT models_default_rates_positive CHECK (default_tpm_limit > 0 AND default_rpm_limit > 0)
);

CREATE TABLE subscriptions (
    id uuid PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    model_id text NOT NULL REFERENCES models (id) ON DELETE RESTRICT,
    status text NOT NULL,
    status_reason text,
    -- The quota; NULL means unlimited.
    max_budget numeric,
    budget_duration text,
    tpm_limit bigint,
    rpm_limit bigint,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT subscriptions_user_model UNIQUE (user_id, model_id),
    -- The target of api_key_subscriptions' foreign key, which keeps a key's subscriptions its owner's.
    CONSTRAINT subscriptions_id_user UNIQUE (id, user_id),
    CONSTRAINT subscriptions_status_known
        CHECK (status IN ('pending', 'active', 'cancelled', 'suspended', 'rejected')),
    CONSTRAINT subscriptions_max_budget_not_negative CHECK (max_budget >= 0),
    CONSTRAINT subscriptions_budget_duration_valid CHECK (keyport_is_budget_duration(budget_duration)),
    CONSTRAINT subscriptions_budget_duration_needs_budget
        CHECK (budget_duration IS NULL OR max_budget IS NOT NULL),
    CONSTRAINT subscriptions_rates_positive CHECK (tpm_limit > 0 AND rpm_limit > 0)
);

CREATE INDEX subscriptions_model ON subscriptions (model_id);

-- Who moved a subscription from which status to which, when and why.
CREATE TABLE subscription_status_history (
    id bigserial PRIMARY KEY,
    subscription_id uuid NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    -- NULL for the row that records the subscription's creation.
    from_status text,
    to_status text NOT NULL,
    reason text,
    -- NULL for changes made by keyport itself, or once the acting user is deleted.
    actor uuid REFERENCES users (id) ON DELETE SET NULL,
    at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT subscription_status_history_from_known
        CHECK (from_status IN ('pending', 'active', 'cancelled', 'suspended', 'rejected')),
    CONSTRAINT subscription_status_history_to_known
        CHECK (to_status IN ('pending', 'active', 'cancelled', 'suspended', 'rejected'))
);

CREATE INDEX subscription_status_history_subscription
    ON subscription_status_history (subscription_id, at);

CREATE TABLE api_keys (
    id uuid PRIMARY KEY,
    -- RESTRICT: a user's keys must be revoked (and removed from LiteLLM) before the user can go.
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    name text NOT NULL,
    key_prefix text NOT NULL,
    -- Lower-case hex SHA-256 of the secret: exactly LiteLLM's `token`.
    key_hash text NOT NULL,
    litellm_alias text NOT NULL,
    status text NOT NULL DEFAULT 'provisioning',
    -- The key's own limits; NULL means unlimited.
    max_budget numeric,
    budget_duration text,
    tpm_limit bigint,
    rpm_limit bigint,
    expires_at timestamptz,
    -- The spend LiteLLM last reported, and when.
    spend numeric,
    spend_read_at timestamptz,
    -- Whether LiteLLM is known to hold what this row says.
    sync_state text NOT NULL DEFAULT 'pending',
    last_sync_error text,
    synced_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz,
    CONSTRAINT api_keys_key_hash UNIQUE (key_hash),
    CONSTRAINT api_keys_litellm_alias UNIQUE (litellm_alias),
    -- The target of api_key_subscriptions' foreign key, which keeps a key's subscriptions its owner's.
    CONSTRAINT api_keys_id_user UNIQUE (id, user_id),
    CONSTRAINT api_keys_key_hash_hex CHECK (key_hash ~ '^[0-9a-f]{64}$'),
    CONSTRAINT api_keys_name_not_blank CHECK (btrim(name) <> ''),
    CONSTRAINT api_keys_status_known
        CHECK (status IN ('provisioning', 'active', 'retiring', 'revoked', 'expired', 'failed')),
    CONSTRAINT api_keys_revoked_at_iff_revoked CHECK ((status = 'revoked') = (revoked_at IS NOT NULL)),
    CONSTRAINT api_keys_sync_state_known CHECK (sync_state IN ('synced', 'pending')),
    CONSTRAINT api_keys_max_budget_not_negative CHECK (max_budget >= 0),
    CONSTRAINT api_keys_budget_duration_valid CHECK (keyport_is_budget_duration(budget_duration)),
    CONSTRAINT api_keys_budget_duration_needs_budget
        CHECK (budget_duration IS NULL OR max_budget IS NOT NULL),
    CONSTRAINT api_keys_rates_positive CHECK (tpm_limit > 0 AND rpm_limit > 0),
    CONSTRAINT api_keys_spend_not_negative CHECK (spend >= 0),
    CONSTRAINT api_keys_spend_read_together CHECK ((spend IS NULL) = (spend_read_at IS NULL))
);

-- A live key holds its name (case-insensitively) among its owner's live keys; a revoked, expired or failed
-- key gives it up.
CREATE UNIQUE INDEX api_keys_live_name ON api_keys (user_id, lower(name))
    WHERE status IN ('provisioning', 'active', 'retiring');

-- "My keys, newest first".
CREATE INDEX api_keys_user_created ON api_keys (user_id, created_at DESC, id DESC);

-- The subscriptions a key is bound to. `user_id` is the owner of both the key and the subscription: the two
-- composite foreign keys make binding a key to somebody else's subscription impossible, and let a user's
-- links be read without going through the keys.
CREATE TABLE api_key_subscriptions (
    api_key_id uuid NOT NULL,
    subscription_id uuid NOT NULL,
    user_id uuid NOT NULL,
    PRIMARY KEY (api_key_id, subscription_id),
    CONSTRAINT api_key_subscriptions_api_key_fkey FOREIGN KEY (api_key_id, user_id)
        REFERENCES api_keys (id, user_id) ON DELETE CASCADE,
    CONSTRAINT api_key_subscriptions_subscription_fkey FOREIGN KEY (subscription_id, user_id)
        REFERENCES subscriptions (id, user_id) ON DELETE RESTRICT
);

CREATE INDEX api_key_subscriptions_subscription ON api_key_subscriptions (subscription_id);
CREATE INDEX api_key_subscriptions_user ON api_key_subscriptions (user_id);

-- Who changed what. Append-only; no foreign key on `actor`, because the log outlives the users it names.
CREATE TABLE audit_events (
    id bigserial PRIMARY KEY,
    actor uuid,
    action text NOT NULL,
    target_type text NOT NULL,
    target_id text NOT NULL,
    before jsonb,
    after jsonb,
    request_id text,
    client_addr text,
    at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT audit_events_action_not_blank CHECK (btrim(action) <> '')
);

CREATE INDEX audit_events_target ON audit_events (target_type, target_id);
CREATE INDEX audit_events_at ON audit_events (at);

CREATE FUNCTION audit_events_refuse_change() RETURNS trigger
    LANGUAGE plpgsql AS
$$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only' USING ERRCODE = 'restrict_violation';
END;
$$;

CREATE TRIGGER audit_events_append_only
    BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_refuse_change();
