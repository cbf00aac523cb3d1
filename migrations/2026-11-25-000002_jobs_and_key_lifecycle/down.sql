-- Refuses, changing nothing, when the data cannot be expressed in the previous schema: a `lost` key, or a
-- retiring key whose name a provisioning or active key of its owner holds (after a rotation). Pending jobs
-- are dropped with the table.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM api_keys WHERE status = 'lost') THEN
        RAISE EXCEPTION 'cannot revert: some API keys are lost; revoke them first';
    END IF;
    IF EXISTS (
        SELECT 1
        FROM api_keys retiring
        JOIN api_keys holder
            ON holder.user_id = retiring.user_id
            AND lower(holder.name) = lower(retiring.name)
            AND holder.id <> retiring.id
            AND holder.status IN ('provisioning', 'active')
        WHERE retiring.status = 'retiring'
    ) THEN
        RAISE EXCEPTION 'cannot revert: a retiring API key shares its name with a live key; revoke it first';
    END IF;
END;
$$;

DROP TABLE jobs;

DROP INDEX api_keys_live_name;
CREATE UNIQUE INDEX api_keys_live_name ON api_keys (user_id, lower(name))
    WHERE status IN ('provisioning', 'active', 'retiring');

ALTER TABLE api_keys
    DROP CONSTRAINT api_keys_not_replaced_by_itself,
    DROP CONSTRAINT api_keys_retire_at_iff_retiring,
    DROP COLUMN replaced_by,
    DROP COLUMN retire_at;

ALTER TABLE api_keys DROP CONSTRAINT api_keys_status_known;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_status_known
    CHECK (status IN ('provisioning', 'active', 'retiring', 'revoked', 'expired', 'failed'));
