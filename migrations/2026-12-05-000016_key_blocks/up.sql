-- An administrator may block a key (LiteLLM refuses it until it is unblocked) with a reason its owner sees;
-- the key keeps its status, subscriptions and limits. Both columns are set together or not at all.
ALTER TABLE api_keys
    ADD COLUMN blocked_at timestamptz,
    ADD COLUMN block_reason text,
    ADD CONSTRAINT api_keys_block_reason_iff_blocked
        CHECK ((blocked_at IS NULL) = (block_reason IS NULL));
