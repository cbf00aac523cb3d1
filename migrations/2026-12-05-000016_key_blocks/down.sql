ALTER TABLE api_keys
    DROP CONSTRAINT api_keys_block_reason_iff_blocked,
    DROP COLUMN block_reason,
    DROP COLUMN blocked_at;
