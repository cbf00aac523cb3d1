-- Pending user jobs are dropped; keys and users stay as LiteLLM holds them (the previous schema knows no
-- pools), and nothing else is lost.
ALTER TABLE self_service_settings
    DROP CONSTRAINT self_service_settings_max_live_keys_in_range,
    DROP CONSTRAINT self_service_settings_allowed_routes_not_empty,
    DROP COLUMN max_live_keys_per_user,
    DROP COLUMN allowed_routes;

DROP TRIGGER subscriptions_access_changed ON subscriptions;
DROP FUNCTION keyport_subscription_access_changed();

DELETE FROM jobs WHERE kind = 'converge_user';
DROP INDEX jobs_one_pending_per_user;
ALTER TABLE jobs
    DROP CONSTRAINT jobs_converge_user_has_user,
    DROP CONSTRAINT jobs_kind_known,
    ADD CONSTRAINT jobs_kind_known CHECK (kind IN ('converge_key')),
    DROP COLUMN user_id;

ALTER TABLE users
    DROP CONSTRAINT users_access_synced_not_ahead,
    DROP COLUMN access_sync_error,
    DROP COLUMN access_synced_at,
    DROP COLUMN access_synced_version,
    DROP COLUMN access_version;
