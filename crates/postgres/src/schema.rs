// @generated automatically by Diesel CLI.

pub mod sql_types {
    #[derive(diesel::sql_types::SqlType)]
    #[diesel(postgres_type(name = "xid8", schema = "pg_catalog"))]
    pub struct Xid8;
}

diesel::table! {
    access_tokens (id) {
        id -> Uuid,
        user_id -> Uuid,
        name -> Text,
        token_prefix -> Text,
        token_hash -> Text,
        scopes -> Array<Nullable<Text>>,
        expires_at -> Nullable<Timestamptz>,
        last_used_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        revoked_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    api_key_subscriptions (api_key_id, subscription_id) {
        api_key_id -> Uuid,
        subscription_id -> Uuid,
        user_id -> Uuid,
    }
}

diesel::table! {
    api_keys (id) {
        id -> Uuid,
        user_id -> Uuid,
        name -> Text,
        key_prefix -> Text,
        key_hash -> Text,
        litellm_alias -> Text,
        status -> Text,
        max_budget -> Nullable<Numeric>,
        budget_duration -> Nullable<Text>,
        tpm_limit -> Nullable<Int8>,
        rpm_limit -> Nullable<Int8>,
        expires_at -> Nullable<Timestamptz>,
        spend -> Nullable<Numeric>,
        spend_read_at -> Nullable<Timestamptz>,
        sync_state -> Text,
        last_sync_error -> Nullable<Text>,
        synced_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        revoked_at -> Nullable<Timestamptz>,
        retire_at -> Nullable<Timestamptz>,
        replaced_by -> Nullable<Uuid>,
        budget_reset_at -> Nullable<Timestamptz>,
        blocked_at -> Nullable<Timestamptz>,
        block_reason -> Nullable<Text>,
    }
}

diesel::table! {
    audit_chain (seq) {
        seq -> Int8,
        event_id -> Int8,
        prev_hash -> Nullable<Text>,
        hash -> Text,
        sealed_at -> Timestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use super::sql_types::Xid8;

    audit_events (id) {
        id -> Int8,
        actor -> Nullable<Uuid>,
        action -> Text,
        target_type -> Text,
        target_id -> Text,
        before -> Nullable<Jsonb>,
        after -> Nullable<Jsonb>,
        request_id -> Nullable<Text>,
        client_addr -> Nullable<Text>,
        at -> Timestamptz,
        tx -> Xid8,
        client_request_id -> Nullable<Text>,
    }
}

diesel::table! {
    jobs (id) {
        id -> Int8,
        kind -> Text,
        api_key_id -> Nullable<Uuid>,
        status -> Text,
        attempts -> Int4,
        run_at -> Timestamptz,
        locked_until -> Nullable<Timestamptz>,
        last_error -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        user_id -> Nullable<Uuid>,
    }
}

diesel::table! {
    login_states (state_hash) {
        state_hash -> Text,
        nonce -> Text,
        pkce_verifier -> Text,
        return_to -> Text,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
        browser_hash -> Text,
    }
}

diesel::table! {
    models (id) {
        id -> Text,
        provider -> Nullable<Text>,
        display_name -> Text,
        description -> Nullable<Text>,
        capabilities -> Array<Nullable<Text>>,
        context_window -> Nullable<Int8>,
        input_price_per_token -> Nullable<Numeric>,
        output_price_per_token -> Nullable<Numeric>,
        availability -> Text,
        restricted -> Bool,
        hidden -> Bool,
        default_max_budget -> Nullable<Numeric>,
        default_budget_duration -> Nullable<Text>,
        default_tpm_limit -> Nullable<Int8>,
        default_rpm_limit -> Nullable<Int8>,
        last_synced_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    rate_limits (limiter, address_group) {
        limiter -> Text,
        address_group -> Text,
        tokens -> Float8,
        granted -> Bool,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    reconcile_runs (id) {
        id -> Int8,
        started_at -> Timestamptz,
        finished_at -> Timestamptz,
        trigger -> Text,
        dry_run -> Bool,
        litellm_keys -> Int8,
        keyport_rows -> Int8,
        litellm_calls -> Int8,
        findings -> Jsonb,
        fixed -> Int8,
        error -> Nullable<Text>,
    }
}

diesel::table! {
    self_service_settings (id) {
        id -> Bool,
        subscription_max_budget -> Nullable<Numeric>,
        subscription_budget_duration -> Nullable<Text>,
        subscription_tpm_limit -> Nullable<Int8>,
        subscription_rpm_limit -> Nullable<Int8>,
        key_default_max_budget -> Nullable<Numeric>,
        key_default_budget_duration -> Nullable<Text>,
        key_default_tpm_limit -> Nullable<Int8>,
        key_default_rpm_limit -> Nullable<Int8>,
        key_max_max_budget -> Nullable<Numeric>,
        key_max_budget_duration -> Nullable<Text>,
        key_max_tpm_limit -> Nullable<Int8>,
        key_max_rpm_limit -> Nullable<Int8>,
        key_default_lifetime_days -> Nullable<Int4>,
        key_max_lifetime_days -> Nullable<Int4>,
        updated_at -> Timestamptz,
        updated_by -> Nullable<Uuid>,
        allowed_routes -> Nullable<Array<Nullable<Text>>>,
        max_live_keys_per_user -> Nullable<Int4>,
        token_max_lifetime_days -> Nullable<Int4>,
    }
}

diesel::table! {
    sessions (id_hash) {
        id_hash -> Text,
        user_id -> Uuid,
        origin -> Text,
        created_at -> Timestamptz,
        last_seen_at -> Timestamptz,
        expires_at -> Timestamptz,
        ended_at -> Nullable<Timestamptz>,
        client_addr -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        id_token_hint -> Nullable<Text>,
    }
}

diesel::table! {
    subscription_status_history (id) {
        id -> Int8,
        subscription_id -> Uuid,
        from_status -> Nullable<Text>,
        to_status -> Text,
        reason -> Nullable<Text>,
        actor -> Nullable<Uuid>,
        at -> Timestamptz,
    }
}

diesel::table! {
    subscriptions (id) {
        id -> Uuid,
        user_id -> Uuid,
        model_id -> Text,
        status -> Text,
        status_reason -> Nullable<Text>,
        max_budget -> Nullable<Numeric>,
        budget_duration -> Nullable<Text>,
        tpm_limit -> Nullable<Int8>,
        rpm_limit -> Nullable<Int8>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    users (id) {
        id -> Uuid,
        issuer -> Nullable<Text>,
        subject -> Nullable<Text>,
        username -> Text,
        email -> Nullable<Text>,
        display_name -> Nullable<Text>,
        roles -> Array<Nullable<Text>>,
        status -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        access_version -> Int8,
        access_synced_version -> Int8,
        access_synced_at -> Nullable<Timestamptz>,
        access_sync_error -> Nullable<Text>,
    }
}

diesel::joinable!(access_tokens -> users (user_id));
diesel::joinable!(api_keys -> users (user_id));
diesel::joinable!(audit_chain -> audit_events (event_id));
diesel::joinable!(jobs -> api_keys (api_key_id));
diesel::joinable!(jobs -> users (user_id));
diesel::joinable!(self_service_settings -> users (updated_by));
diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(subscription_status_history -> subscriptions (subscription_id));
diesel::joinable!(subscription_status_history -> users (actor));
diesel::joinable!(subscriptions -> models (model_id));
diesel::joinable!(subscriptions -> users (user_id));

diesel::allow_tables_to_appear_in_same_query!(
    access_tokens,
    api_key_subscriptions,
    api_keys,
    audit_chain,
    audit_events,
    jobs,
    login_states,
    models,
    rate_limits,
    reconcile_runs,
    self_service_settings,
    sessions,
    subscription_status_history,
    subscriptions,
    users,
);
