ALTER TABLE self_service_settings
    DROP CONSTRAINT self_service_settings_token_lifetime_in_range,
    DROP COLUMN token_max_lifetime_days;
