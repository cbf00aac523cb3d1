//! Shared test data for the use-case tests.

use crate::access::AccessRecord;
use crate::catalog::{Availability, Model};
use crate::ids::{ApiKeyId, ModelId, SubscriptionId, UserId};
use crate::keys::{ApiKey, ApiKeyStatus, SyncState};
use crate::limits::{BudgetDuration, Limits};
use crate::runtime::{Clock, MockClock, MockSecretGenerator, SecretGenerator};
use crate::secret::{Secret, SecretKind, RANDOM_BYTES};
use crate::subscriptions::{Subscription, SubscriptionStatus};
use crate::users::{Actor, Role, User, UserStatus};
use chrono::{DateTime, TimeZone, Utc};
use std::sync::Arc;
use uuid::Uuid;

pub use crate::testing::money;

pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap()
}

pub fn fixed_clock() -> Arc<dyn Clock> {
    let mut clock = MockClock::new();
    clock.expect_now().returning(now);
    Arc::new(clock)
}

pub const RANDOM: [u8; RANDOM_BYTES] = [7; RANDOM_BYTES];

pub fn fixed_secrets() -> Arc<dyn SecretGenerator> {
    let mut secrets = MockSecretGenerator::new();
    secrets.expect_random_bytes().returning(|| RANDOM);
    Arc::new(secrets)
}

/// The API key secret that [`fixed_secrets`] produces.
pub fn expected_key_secret() -> Secret {
    Secret::from_random(SecretKind::ApiKey, &RANDOM)
}

pub fn alice() -> Actor {
    Actor::user(UserId(Uuid::from_u128(0xA11CE)))
}

pub fn bob() -> Actor {
    Actor::user(UserId(Uuid::from_u128(0xB0B)))
}

pub fn quota(budget: i64) -> Limits {
    Limits {
        max_budget: Some(money(&budget.to_string())),
        budget_duration: Some(BudgetDuration::parse("30d").unwrap()),
        tpm_limit: Some(10_000),
        rpm_limit: Some(60),
    }
}

pub fn model(id: &str, restricted: bool) -> Model {
    Model {
        id: ModelId::parse(id).unwrap(),
        provider: Some("openai".into()),
        display_name: id.into(),
        description: None,
        capabilities: vec!["chat".into()],
        context_window: Some(128_000),
        input_price_per_token: None,
        output_price_per_token: None,
        availability: Availability::Available,
        restricted,
        hidden: false,
        default_quota: quota(10),
        last_synced_at: Some(now()),
    }
}

pub fn subscription(user: UserId, model: &str, status: SubscriptionStatus) -> Subscription {
    Subscription {
        id: SubscriptionId::new(),
        user_id: user,
        model_id: ModelId::parse(model).unwrap(),
        status,
        status_reason: None,
        quota: quota(10),
        created_at: now(),
        updated_at: now(),
    }
}

pub fn api_key(user: UserId, status: ApiKeyStatus) -> ApiKey {
    let secret = Secret::from_random(SecretKind::ApiKey, &[3; RANDOM_BYTES]);
    let id = ApiKeyId::new();
    ApiKey {
        id,
        user_id: user,
        name: "ci".into(),
        prefix: secret.prefix(),
        hash: secret.hash(),
        litellm_alias: crate::keys::litellm_alias(id),
        status,
        limits: quota(5),
        expires_at: None,
        subscription_ids: vec![SubscriptionId::new()],
        models: vec![ModelId::parse("gpt-4o-mini").unwrap()],
        spend: None,
        spend_read_at: None,
        budget_reset_at: None,
        sync_state: SyncState::Synced,
        last_sync_error: None,
        synced_at: Some(now()),
        created_at: now(),
        updated_at: now(),
        revoked_at: None,
        retire_at: None,
        replaced_by: None,
        blocked_at: None,
        block_reason: None,
    }
}

/// A `ConvergeUser` whose users are all unknown: it changes nothing (for use cases that call it after a
/// change, when the test is about the change).
pub fn converge_user_offline() -> Arc<crate::access::ConvergeUser> {
    let mut access = crate::access::MockAccessStore::new();
    access.expect_access_record().returning(|_| Ok(None));
    Arc::new(crate::access::ConvergeUser::new(
        Arc::new(access),
        Arc::new(crate::gateway::MockGateway::new()),
        fixed_clock(),
    ))
}

/// A `ConvergeKey` whose keys are all unknown: it changes nothing.
pub fn converge_offline() -> Arc<crate::keys::ConvergeKey> {
    let mut keys = crate::keys::MockApiKeyStore::new();
    keys.expect_get_key().returning(|_| Ok(None));
    Arc::new(crate::keys::ConvergeKey::new(
        Arc::new(keys),
        Arc::new(crate::access::MockAccessStore::new()),
        converge_user_offline(),
        Arc::new(crate::gateway::MockGateway::new()),
        fixed_clock(),
        settings_source(),
    ))
}

/// Permissive self-service settings: no caps or lifetimes, the default routes, 20 live keys.
pub fn key_settings() -> crate::settings::SelfServiceSettings {
    crate::settings::SelfServiceSettings {
        key_max_limits: Limits::default(),
        key_default_lifetime_days: None,
        key_max_lifetime_days: None,
        allowed_routes: crate::access::InferenceRoutes::default(),
        max_live_keys_per_user: crate::access::DEFAULT_MAX_LIVE_KEYS,
        ..crate::settings::SelfServiceSettings::default()
    }
}

/// `settings`, fixed, with rotations allowed to overlap for up to a day.
pub fn fixed_settings(
    settings: crate::settings::SelfServiceSettings,
) -> crate::settings::SettingsSource {
    crate::settings::SettingsSource::fixed(settings)
        .with_max_rotation_overlap(chrono::Duration::hours(24))
}

/// The permissive settings ([`key_settings`]), fixed, with rotations allowed to overlap for up to a day.
pub fn settings_source() -> crate::settings::SettingsSource {
    fixed_settings(key_settings())
}

/// A user called "alice" with the `user` role.
pub fn user(id: UserId, status: UserStatus) -> User {
    named_user(id, "alice", status)
}

/// A user with the `user` role, this username, and neither email nor display name.
pub fn named_user(id: UserId, username: &str, status: UserStatus) -> User {
    User {
        id,
        username: username.into(),
        email: None,
        display_name: None,
        roles: vec![Role::User],
        status,
        created_at: now(),
    }
}

/// A user's access record with these subscriptions, which LiteLLM already holds (not pending).
pub fn access_record(
    id: UserId,
    status: UserStatus,
    subscriptions: Vec<Subscription>,
) -> AccessRecord {
    AccessRecord {
        user: user(id, status),
        subscriptions,
        version: 1,
        synced_version: 1,
    }
}

/// What LiteLLM answers for a key with this hash and nothing else: no models, limits, spend, owner or
/// metadata, not blocked.
pub fn bare_gateway_key(hash: crate::secret::KeyHash) -> crate::gateway::GatewayKey {
    crate::gateway::GatewayKey {
        hash,
        alias: None,
        user_id: None,
        models: vec![],
        status: crate::gateway::GatewayKeyStatus::Active,
        max_budget: None,
        budget_duration: None,
        tpm_limit: None,
        rpm_limit: None,
        spend: None,
        budget_reset_at: None,
        expires_at: None,
        metadata: serde_json::Value::Null,
        team_id: None,
        allowed_routes: vec![],
    }
}

/// A subscription store that holds `sub` (whatever id is asked for) with these keys bound to it.
pub fn subscription_store_with(
    sub: Subscription,
    keys: Vec<ApiKey>,
) -> crate::subscriptions::MockSubscriptionStore {
    let mut store = crate::subscriptions::MockSubscriptionStore::new();
    store
        .expect_get_subscription()
        .returning(move |_| Ok(Some(sub.clone())));
    store
        .expect_keys_bound_to()
        .returning(move |_| Ok(keys.clone()));
    store
}

/// `sub`, moved to `status`, as the store answers a status change.
pub fn with_status(sub: &Subscription, status: SubscriptionStatus) -> Subscription {
    let mut s = sub.clone();
    s.status = status;
    s
}

/// Alice as an administrator (keeping her other roles).
pub fn admin() -> Actor {
    let mut actor = alice();
    actor.roles.push(Role::Admin);
    actor
}

/// Lets the access store be told LiteLLM holds a user's records, keeping each `(user, version)` told.
pub fn record_access_synced(
    access: &mut crate::access::MockAccessStore,
) -> Arc<std::sync::Mutex<Vec<(UserId, i64)>>> {
    let synced = Arc::new(std::sync::Mutex::new(Vec::new()));
    let s = synced.clone();
    access
        .expect_mark_access_synced()
        .returning(move |user, version, _| {
            s.lock().unwrap().push((user, version));
            Ok(())
        });
    synced
}

/// Lets LiteLLM take an owner's convergence (user, access, team), keeping the names of the calls in order;
/// the test adds the calls it expects next to the same list.
pub fn record_owner_convergence(
    gateway: &mut crate::gateway::MockGateway,
) -> Arc<std::sync::Mutex<Vec<&'static str>>> {
    let calls = Arc::new(std::sync::Mutex::new(Vec::new()));
    let c = calls.clone();
    gateway.expect_ensure_user().returning(move |_| {
        c.lock().unwrap().push("ensure_user");
        Ok(())
    });
    let c = calls.clone();
    gateway.expect_set_user_access().returning(move |_| {
        c.lock().unwrap().push("set_user_access");
        Ok(())
    });
    let c = calls.clone();
    gateway.expect_ensure_team().returning(move |_| {
        c.lock().unwrap().push("ensure_team");
        Ok(())
    });
    calls
}
