ALTER TABLE api_keys
    DROP CONSTRAINT api_keys_budget_reset_read_with_spend,
    DROP COLUMN budget_reset_at;
