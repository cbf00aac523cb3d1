-- Token buckets for the per-address rate limits (failed authentications, calls to the login endpoints),
-- shared by every replica: one row per limiter and client address group (an IPv4 address or an IPv6 /64).
-- A row holds the tokens left when it was last touched; the refill since then is computed by the one
-- statement that takes a token (crates/postgres/src/rate_limits.rs), so concurrent takes serialise on the
-- row and never grant more than the bucket held. `granted` is the answer of that last take.
--
-- UNLOGGED: the counters are disposable (after a crash PostgreSQL empties the table, and every bucket starts
-- full again, as for an address never seen), and skipping the WAL keeps a flood of failures cheap. No index
-- on updated_at: every take changes it, and an index would turn those cheap in-page (HOT) updates into index
-- writes; the pruning scan runs once a minute over a table of recently active addresses only.
CREATE UNLOGGED TABLE rate_limits (
    limiter text NOT NULL,
    address_group text NOT NULL,
    tokens double precision NOT NULL,
    granted boolean NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (limiter, address_group),
    CONSTRAINT rate_limits_limiter_shape CHECK (limiter ~ '^[a-z_]{1,32}$'),
    CONSTRAINT rate_limits_address_group_length CHECK (length(address_group) BETWEEN 1 AND 64),
    CONSTRAINT rate_limits_tokens_not_negative CHECK (tokens >= 0)
);
