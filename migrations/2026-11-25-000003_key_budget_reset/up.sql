-- What the reconciler reads from LiteLLM besides the spend: when the key's budget resets next, as last
-- read. NULL when unknown (never read, or LiteLLM has no reset for the key). It is read together with the
-- spend, so it is only ever set where `spend_read_at` is.
--
-- No new index. The reconciler finds keys by hash through `api_keys_key_hash` (unique), and pages through
-- them in id order (`id > $cursor AND status = ANY($statuses) ORDER BY id LIMIT 100`) on the primary key,
-- filtering the statuses as it goes: a full pass reads every row at most once. Measured (EXPLAIN ANALYZE,
-- PostgreSQL 15, generic and custom plans) over 100,000 keys of which only 1% are live, a page of 100 live
-- keys reads ~10,000 index entries in ~6 ms; a (status, id) index would save that at the cost of upkeep on
-- every status change, and cannot hand out several statuses in id order anyway.
ALTER TABLE api_keys
    ADD COLUMN budget_reset_at timestamptz,
    ADD CONSTRAINT api_keys_budget_reset_read_with_spend
        CHECK (budget_reset_at IS NULL OR spend_read_at IS NOT NULL);
