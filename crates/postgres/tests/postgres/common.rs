//! Fixtures: domain values with sensible defaults, and SQL for what the ports do not expose.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test fixtures: a failed setup must fail the test that asked for it"
)]

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::RunQueryDsl;
use keyport_domain::audit::AuditEvent;
use keyport_domain::catalog::CatalogEntry;
use keyport_domain::catalog::{CatalogChanges, ModelStore};
use keyport_domain::identity::AccessToken;
use keyport_domain::ids::{AccessTokenId, ApiKeyId, ModelId, SubscriptionId, UserId};
use keyport_domain::keys::ApiKeyStore;
use keyport_domain::keys::{litellm_alias, NewApiKey};
use keyport_domain::limits::{BudgetDuration, Limits};
use keyport_domain::secret::SecretKind;
use keyport_domain::subscriptions::SubscriptionStore;
use keyport_domain::subscriptions::{Subscription, SubscriptionStatus};
use keyport_domain::users::UserStore;
use keyport_domain::users::{Role, User, UserStatus};
use keyport_postgres::schema::audit_events;
use keyport_postgres::PgStore;
use keyport_testkit::TestDb;
use rust_decimal::Decimal;
use std::str::FromStr;

/// The shared fixtures of every crate's tests.
pub use keyport_domain::testing::{money, secret};

/// A fixed instant plus `seconds` (PostgreSQL keeps microseconds, so whole seconds round-trip exactly).
pub fn at(seconds: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap() + TimeDelta::seconds(seconds)
}

pub fn limits(budget: &str, window: &str, tpm: u64, rpm: u64) -> Limits {
    Limits {
        max_budget: Some(money(budget)),
        budget_duration: Some(BudgetDuration::parse(window).unwrap()),
        tpm_limit: Some(tpm),
        rpm_limit: Some(rpm),
    }
}

pub fn audit(action: &str, target_type: &str, target_id: impl ToString) -> AuditEvent {
    AuditEvent::system(action, target_type, target_id, at(0))
}

pub fn user(username: &str) -> User {
    User {
        id: UserId::new(),
        username: username.to_owned(),
        email: Some(format!("{username}@example.org")),
        display_name: Some(username.to_uppercase()),
        roles: vec![Role::User],
        status: UserStatus::Active,
        created_at: at(0),
    }
}

pub async fn insert_user(store: &PgStore, username: &str) -> User {
    let user = user(username);
    store
        .insert_user(&user, None, &audit("user.create", "user", user.id))
        .await
        .unwrap();
    user
}

pub fn access_token(user: UserId) -> AccessToken {
    let secret = secret(SecretKind::AccessToken);
    AccessToken {
        id: AccessTokenId::new(),
        user_id: user,
        name: "ci".to_owned(),
        prefix: secret.prefix(),
        hash: secret.hash(),
        scopes: vec!["keys:read".to_owned(), "keys:write".to_owned()],
        expires_at: None,
        last_used_at: None,
        created_at: at(0),
        revoked_at: None,
    }
}

pub fn catalog_entry(id: &str) -> CatalogEntry {
    CatalogEntry {
        id: ModelId::parse(id).unwrap(),
        provider: Some("openai".to_owned()),
        mode: Some("chat".to_owned()),
        capabilities: vec!["chat".to_owned(), "function_calling".to_owned()],
        context_window: Some(128_000),
        input_price_per_token: Some(Decimal::from_str("0.0000025").unwrap()),
        output_price_per_token: Some(Decimal::from_str("0.00001").unwrap()),
    }
}

pub async fn insert_model(store: &PgStore, id: &str) -> ModelId {
    store
        .apply_catalog(&CatalogChanges {
            upserts: vec![catalog_entry(id)],
            vanished: vec![],
            synced_at: at(0),
        })
        .await
        .unwrap();
    ModelId::parse(id).unwrap()
}

pub fn subscription(user: UserId, model: &ModelId, status: SubscriptionStatus) -> Subscription {
    Subscription {
        id: SubscriptionId::new(),
        user_id: user,
        model_id: model.clone(),
        status,
        status_reason: None,
        quota: limits("100", "30d", 100_000, 600),
        created_at: at(0),
        updated_at: at(0),
    }
}

pub async fn subscribe(store: &PgStore, user: UserId, model: &ModelId) -> Subscription {
    let subscription = subscription(user, model, SubscriptionStatus::Active);
    store
        .insert_subscription(
            &subscription,
            &audit("subscription.create", "subscription", subscription.id),
        )
        .await
        .unwrap();
    subscription
}

pub fn new_key(user: UserId, name: &str, subscriptions: &[SubscriptionId]) -> NewApiKey {
    let id = ApiKeyId::new();
    let secret = secret(SecretKind::ApiKey);
    NewApiKey {
        id,
        user_id: user,
        name: name.to_owned(),
        prefix: secret.prefix(),
        hash: secret.hash(),
        litellm_alias: litellm_alias(id),
        limits: limits("10", "7d", 1_000, 60),
        expires_at: Some(at(86_400)),
        subscription_ids: subscriptions.to_vec(),
        created_at: at(0),
    }
}

pub async fn insert_key(store: &PgStore, key: &NewApiKey) {
    store
        .insert_provisioning_key(key, None, &audit("api_key.create", "api_key", key.id))
        .await
        .unwrap();
}

/// A user with one active subscription, and the store.
pub struct World {
    pub db: TestDb,
    pub store: PgStore,
    pub user: User,
    pub model: ModelId,
    pub subscription: Subscription,
}

pub async fn world() -> World {
    let db = TestDb::new().await;
    let store = db.store();
    let user = insert_user(&store, "alice").await;
    let model = insert_model(&store, "openai/gpt-4o").await;
    let subscription = subscribe(&store, user.id, &model).await;
    World {
        db,
        store,
        user,
        model,
        subscription,
    }
}

/// The audit actions recorded for a target, oldest first.
pub async fn audit_actions(db: &TestDb, target_id: impl ToString) -> Vec<String> {
    let mut conn = db.pool().get().await.unwrap();
    audit_events::table
        .filter(audit_events::target_id.eq(target_id.to_string()))
        .order(audit_events::id)
        .select(audit_events::action)
        .load(&mut conn)
        .await
        .unwrap()
}

/// Runs raw SQL (for what the ports never do, such as breaking the rules on purpose).
pub async fn sql(db: &TestDb, statement: &str) -> Result<usize, DieselError> {
    let mut conn = db.pool().get().await.unwrap();
    diesel::sql_query(statement).execute(&mut conn).await
}

/// Asserts that the statement is refused by the named constraint.
pub async fn assert_refused(
    db: &TestDb,
    statement: &str,
    kind: DatabaseErrorKind,
    constraint: &str,
) {
    match sql(db, statement).await {
        Err(DieselError::DatabaseError(actual, info)) => {
            assert_eq!(
                format!("{actual:?}"),
                format!("{kind:?}"),
                "{statement}: {}",
                info.message()
            );
            assert_eq!(info.constraint_name(), Some(constraint), "{statement}");
        }
        other => panic!("{statement} should be refused by {constraint}, got {other:?}"),
    }
}

/// The status history of a subscription: (from, to, reason, actor present), oldest first.
pub async fn history(
    db: &TestDb,
    id: SubscriptionId,
) -> Vec<(Option<String>, String, Option<String>, bool)> {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use keyport_postgres::schema::subscription_status_history as h;
    let mut conn = db.pool().get().await.unwrap();
    h::table
        .filter(h::subscription_id.eq(id.0))
        .order(h::id)
        .select((
            h::from_status,
            h::to_status,
            h::reason,
            h::actor.is_not_null(),
        ))
        .load(&mut conn)
        .await
        .unwrap()
}

/// Inserts the key and activates it.
pub async fn insert_active_key(store: &PgStore, key: &NewApiKey) {
    insert_key(store, key).await;
    store
        .activate_key(
            key.id,
            at(1),
            &[],
            &audit("api_key.activate", "api_key", key.id),
        )
        .await
        .unwrap();
}

/// A key's jobs, oldest first: (status, run_at, attempts).
pub async fn jobs_of(db: &TestDb, key: ApiKeyId) -> Vec<(String, DateTime<Utc>, i32)> {
    use keyport_postgres::schema::jobs;
    let mut conn = db.pool().get().await.unwrap();
    jobs::table
        .filter(jobs::api_key_id.eq(key.0))
        .order(jobs::id)
        .select((jobs::status, jobs::run_at, jobs::attempts))
        .load(&mut conn)
        .await
        .unwrap()
}

/// The pending jobs of a key: their due times.
pub async fn pending_jobs_of(db: &TestDb, key: ApiKeyId) -> Vec<DateTime<Utc>> {
    jobs_of(db, key)
        .await
        .into_iter()
        .filter(|(status, _, _)| status == "pending")
        .map(|(_, run_at, _)| run_at)
        .collect()
}

/// The audit events recorded for a target, oldest first: (action, actor, before, after).
pub async fn audit_events_of(
    db: &TestDb,
    target_id: impl ToString,
) -> Vec<(
    String,
    Option<uuid::Uuid>,
    Option<serde_json::Value>,
    Option<serde_json::Value>,
)> {
    let mut conn = db.pool().get().await.unwrap();
    audit_events::table
        .filter(audit_events::target_id.eq(target_id.to_string()))
        .order(audit_events::id)
        .select((
            audit_events::action,
            audit_events::actor,
            audit_events::before,
            audit_events::after,
        ))
        .load(&mut conn)
        .await
        .unwrap()
}

/// Makes an active key retiring (as a rotation would), due at `retire_at`, without a successor.
pub async fn make_retiring(db: &TestDb, key: ApiKeyId, retire_at: DateTime<Utc>) {
    let updated = sql(
        db,
        &format!(
            "UPDATE api_keys SET status = 'retiring', retire_at = '{}' WHERE id = '{key}' AND status = 'active'",
            retire_at.to_rfc3339()
        ),
    )
    .await
    .unwrap();
    assert_eq!(updated, 1, "{key} should have been active");
}

/// A user's `converge_user` jobs, oldest first: (status, run_at, attempts).
pub async fn user_jobs_of(db: &TestDb, user: UserId) -> Vec<(String, DateTime<Utc>, i32)> {
    use keyport_postgres::schema::jobs;
    let mut conn = db.pool().get().await.unwrap();
    jobs::table
        .filter(jobs::user_id.eq(user.0))
        .filter(jobs::kind.eq("converge_user"))
        .order(jobs::id)
        .select((jobs::status, jobs::run_at, jobs::attempts))
        .load(&mut conn)
        .await
        .unwrap()
}

/// The due times of a user's pending `converge_user` jobs.
pub async fn pending_user_jobs_of(db: &TestDb, user: UserId) -> Vec<DateTime<Utc>> {
    user_jobs_of(db, user)
        .await
        .into_iter()
        .filter(|(status, _, _)| status == "pending")
        .map(|(_, run_at, _)| run_at)
        .collect()
}
