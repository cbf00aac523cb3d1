-- The defaults and maximums an administrator sets for self-service subscriptions and keys: one row, absent
-- until an administrator first saves settings (until then the server's configuration applies). Limits
-- follow the same rules as everywhere else (NULL is unlimited); the domain validates the rest (a default
-- within its maximum across budget windows) and these constraints keep an illegal row out whatever the code
-- does.

CREATE TABLE self_service_settings (
    -- Always true: at most one row.
    id boolean PRIMARY KEY DEFAULT true,
    -- The cap on a self-service subscription's quota (a model's default quota above it is cut down).
    subscription_max_budget numeric,
    subscription_budget_duration text,
    subscription_tpm_limit bigint,
    subscription_rpm_limit bigint,
    -- What the key forms prefill.
    key_default_max_budget numeric,
    key_default_budget_duration text,
    key_default_tpm_limit bigint,
    key_default_rpm_limit bigint,
    -- The cap on every key's limits.
    key_max_max_budget numeric,
    key_max_budget_duration text,
    key_max_tpm_limit bigint,
    key_max_rpm_limit bigint,
    -- Lifetimes in days; NULL: none.
    key_default_lifetime_days integer,
    key_max_lifetime_days integer,
    updated_at timestamptz NOT NULL DEFAULT now(),
    -- NULL once the administrator is deleted.
    updated_by uuid REFERENCES users (id) ON DELETE SET NULL,
    CONSTRAINT self_service_settings_single_row CHECK (id),
    CONSTRAINT self_service_settings_budgets_not_negative
        CHECK (subscription_max_budget >= 0 AND key_default_max_budget >= 0 AND key_max_max_budget >= 0),
    CONSTRAINT self_service_settings_budget_durations_valid
        CHECK (keyport_is_budget_duration(subscription_budget_duration)
            AND keyport_is_budget_duration(key_default_budget_duration)
            AND keyport_is_budget_duration(key_max_budget_duration)),
    CONSTRAINT self_service_settings_budget_durations_need_budget
        CHECK ((subscription_budget_duration IS NULL OR subscription_max_budget IS NOT NULL)
            AND (key_default_budget_duration IS NULL OR key_default_max_budget IS NOT NULL)
            AND (key_max_budget_duration IS NULL OR key_max_max_budget IS NOT NULL)),
    CONSTRAINT self_service_settings_rates_positive
        CHECK (subscription_tpm_limit > 0 AND subscription_rpm_limit > 0
            AND key_default_tpm_limit > 0 AND key_default_rpm_limit > 0
            AND key_max_tpm_limit > 0 AND key_max_rpm_limit > 0),
    CONSTRAINT self_service_settings_key_defaults_within_maximums
        CHECK (key_default_max_budget <= key_max_max_budget
            AND key_default_tpm_limit <= key_max_tpm_limit
            AND key_default_rpm_limit <= key_max_rpm_limit),
    CONSTRAINT self_service_settings_lifetimes_in_range
        CHECK (key_default_lifetime_days BETWEEN 1 AND 36500 AND key_max_lifetime_days BETWEEN 1 AND 36500),
    CONSTRAINT self_service_settings_default_lifetime_within_maximum
        CHECK (key_default_lifetime_days <= key_max_lifetime_days)
);

-- The approvals queue: pending subscriptions, newest first.
CREATE INDEX subscriptions_pending ON subscriptions (id DESC) WHERE status = 'pending';
