-- The organisation's longest lifetime for a personal access token (an administrator's setting); NULL: the
-- built-in limit of 366 days, or no expiry.
ALTER TABLE self_service_settings
    ADD COLUMN token_max_lifetime_days integer,
    ADD CONSTRAINT self_service_settings_token_lifetime_in_range
        CHECK (token_max_lifetime_days BETWEEN 1 AND 366);
