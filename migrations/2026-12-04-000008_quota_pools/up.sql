-- Quotas that hold (docs/quotas.md): each user's LiteLLM side (role, reachable models, per-model spend pools,
-- the team that pools rates) is brought in line by a `converge_user` job, queued in the same transaction as
-- every change of the user's subscriptions; keys get an inference-only route list and a cap per user.

-- The user's access to LiteLLM: `access_version` grows with every change of their subscriptions;
-- `access_synced_version` is the version LiteLLM was last brought to. Pending while they differ.
ALTER TABLE users
    ADD COLUMN access_version bigint NOT NULL DEFAULT 1,
    ADD COLUMN access_synced_version bigint NOT NULL DEFAULT 0,
    ADD COLUMN access_synced_at timestamptz,
    ADD COLUMN access_sync_error text,
    ADD CONSTRAINT users_access_synced_not_ahead CHECK (access_synced_version <= access_version);

-- A job about a user (converge_user); its jobs go with it.
ALTER TABLE jobs
    ADD COLUMN user_id uuid REFERENCES users (id) ON DELETE CASCADE,
    DROP CONSTRAINT jobs_kind_known,
    ADD CONSTRAINT jobs_kind_known CHECK (kind IN ('converge_key', 'converge_user')),
    ADD CONSTRAINT jobs_converge_user_has_user CHECK (kind <> 'converge_user' OR user_id IS NOT NULL);

-- At most one pending job per user and kind, like jobs_one_pending_per_key.
CREATE UNIQUE INDEX jobs_one_pending_per_user ON jobs (kind, user_id) WHERE status = 'pending' AND user_id IS NOT NULL;

-- Every change of a subscription's status or quota changes its owner's pools in LiteLLM: the owner's access
-- version grows and a converge_user job is queued (due at the change's time), in the change's transaction.
-- A trigger, so that no path that writes subscriptions (subscribe, approve, reject, grant, cancel, an
-- administrator's suspension or quota change, a model opened to all) can forget it.
CREATE FUNCTION keyport_subscription_access_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE'
        AND NEW.status IS NOT DISTINCT FROM OLD.status
        AND NEW.max_budget IS NOT DISTINCT FROM OLD.max_budget
        AND NEW.budget_duration IS NOT DISTINCT FROM OLD.budget_duration
        AND NEW.tpm_limit IS NOT DISTINCT FROM OLD.tpm_limit
        AND NEW.rpm_limit IS NOT DISTINCT FROM OLD.rpm_limit
        AND NEW.user_id IS NOT DISTINCT FROM OLD.user_id THEN
        RETURN NEW;
    END IF;
    UPDATE users SET access_version = access_version + 1 WHERE id = NEW.user_id;
    INSERT INTO jobs (kind, user_id, status, attempts, run_at, created_at, updated_at)
    VALUES ('converge_user', NEW.user_id, 'pending', 0, NEW.updated_at, NEW.updated_at, NEW.updated_at)
    ON CONFLICT (kind, user_id) WHERE status = 'pending' AND user_id IS NOT NULL
    DO UPDATE SET run_at = LEAST(jobs.run_at, EXCLUDED.run_at), updated_at = EXCLUDED.updated_at;
    RETURN NEW;
END;
$$;

CREATE TRIGGER subscriptions_access_changed
    AFTER INSERT OR UPDATE ON subscriptions
    FOR EACH ROW EXECUTE FUNCTION keyport_subscription_access_changed();

-- The administrator's settings: the routes keys may call, and the cap on a user's live keys. NULL: the
-- server's defaults (chat and text completions, embeddings, model listing, responses; 20 keys).
ALTER TABLE self_service_settings
    ADD COLUMN allowed_routes text[],
    ADD COLUMN max_live_keys_per_user integer,
    ADD CONSTRAINT self_service_settings_allowed_routes_not_empty
        CHECK (cardinality(allowed_routes) > 0),
    ADD CONSTRAINT self_service_settings_max_live_keys_in_range
        CHECK (max_live_keys_per_user BETWEEN 1 AND 1000);

-- Bring what exists in line: every user's LiteLLM side (role, models, pools, team), and every live key
-- (routes and team) through its converge job.
INSERT INTO jobs (kind, user_id, status, attempts, run_at, created_at, updated_at)
SELECT 'converge_user', u.id, 'pending', 0, now(), now(), now() FROM users u
ON CONFLICT (kind, user_id) WHERE status = 'pending' AND user_id IS NOT NULL DO NOTHING;

UPDATE api_keys SET sync_state = 'pending' WHERE status IN ('active', 'retiring');

INSERT INTO jobs (kind, api_key_id, status, attempts, run_at, created_at, updated_at)
SELECT 'converge_key', k.id, 'pending', 0, now(), now(), now() FROM api_keys k
WHERE k.status IN ('active', 'retiring')
ON CONFLICT (kind, api_key_id) WHERE status = 'pending' DO NOTHING;
