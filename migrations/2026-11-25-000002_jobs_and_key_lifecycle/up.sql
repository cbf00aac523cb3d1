-- The durable key lifecycle: the jobs outbox, lost keys, and what a rotation records on the key it retires.

-- A key LiteLLM no longer has (it cannot be re-created without its secret) is `lost`.
ALTER TABLE api_keys DROP CONSTRAINT api_keys_status_known;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_status_known
    CHECK (status IN ('provisioning', 'active', 'retiring', 'revoked', 'expired', 'failed', 'lost'));

-- A rotation's old key: when it stops working, and the key that replaced it (kept once it is gone).
ALTER TABLE api_keys
    ADD COLUMN retire_at timestamptz,
    ADD COLUMN replaced_by uuid REFERENCES api_keys (id) ON DELETE SET NULL;
-- Nothing made a key retiring before this migration; should a row be, it retires at once.
UPDATE api_keys SET retire_at = updated_at WHERE status = 'retiring';
ALTER TABLE api_keys
    ADD CONSTRAINT api_keys_retire_at_iff_retiring CHECK ((status = 'retiring') = (retire_at IS NOT NULL)),
    ADD CONSTRAINT api_keys_not_replaced_by_itself CHECK (replaced_by <> id);

-- A rotation's new key takes the retiring key's name: only provisioning and active keys hold a name now.
DROP INDEX api_keys_live_name;
CREATE UNIQUE INDEX api_keys_live_name ON api_keys (user_id, lower(name))
    WHERE status IN ('provisioning', 'active');

-- The outbox: durable work for LiteLLM, written in the same transaction as the change it serves, claimed
-- by workers with FOR UPDATE SKIP LOCKED, retried with backoff, kept as `dead` when it gives up.
CREATE TABLE jobs (
    id bigserial PRIMARY KEY,
    kind text NOT NULL,
    -- The key a key job is about; its jobs go with it.
    api_key_id uuid REFERENCES api_keys (id) ON DELETE CASCADE,
    status text NOT NULL DEFAULT 'pending',
    -- Attempts started so far, the current one included.
    attempts integer NOT NULL DEFAULT 0,
    -- When it is due (again).
    run_at timestamptz NOT NULL,
    -- The lease of the worker running it; once it ends, the job may be claimed again.
    locked_until timestamptz,
    last_error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT jobs_kind_known CHECK (kind IN ('converge_key')),
    CONSTRAINT jobs_converge_key_has_key CHECK (kind <> 'converge_key' OR api_key_id IS NOT NULL),
    CONSTRAINT jobs_status_known CHECK (status IN ('pending', 'running', 'done', 'dead')),
    CONSTRAINT jobs_attempts_not_negative CHECK (attempts >= 0),
    CONSTRAINT jobs_locked_until_iff_running CHECK ((status = 'running') = (locked_until IS NOT NULL))
);

-- At most one pending job per key and kind: queuing again only moves its due time earlier. A job may be
-- running meanwhile (it started before the change that queued the pending one).
CREATE UNIQUE INDEX jobs_one_pending_per_key ON jobs (kind, api_key_id) WHERE status = 'pending';

-- The claim: due pending jobs and running ones whose lease ended, oldest due first.
CREATE INDEX jobs_status_run_at ON jobs (status, run_at);

-- The admin view: jobs in a status, most recently updated first.
CREATE INDEX jobs_status_updated_at ON jobs (status, updated_at DESC, id DESC);

-- ON DELETE CASCADE: deleting a key finds its jobs through this index.
CREATE INDEX jobs_api_key ON jobs (api_key_id);
