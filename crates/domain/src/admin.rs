//! What administrators (and, for reading, auditors) work with: the user directory, everybody's keys and
//! subscriptions, approvals of restricted models, model settings, and the defaults and maximums for
//! self-service subscriptions and keys. The ports here are separate from the per-user stores in
//! [`crate::ports`] so that the hot paths of those stores stay small; `keyport-postgres` implements them all.
//!
//! Store contract, as in [`crate::ports`]: every mutating method commits its change and its audit event(s)
//! in one transaction or not at all.

use crate::access::{InferenceRoutes, DEFAULT_MAX_LIVE_KEYS, MAX_LIVE_KEYS_LIMIT};
use crate::api_key::{ApiKey, ApiKeyStatus};
use crate::audit::AuditEvent;
use crate::error::StoreError;
use crate::ids::{ApiKeyId, ModelId, SubscriptionId, UserId};
use crate::limits::Limits;
use crate::model::Model;
use crate::subscription::{Subscription, SubscriptionStatus};
use crate::user::{Role, User, UserStatus};
use crate::FieldError;
use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// Items per page when the caller does not say.
pub const DEFAULT_PAGE_SIZE: u32 = 50;
/// The most items one page holds.
pub const MAX_PAGE_SIZE: u32 = 200;
/// The longest lifetime an administrator may set for self-service keys, in days (100 years).
pub const MAX_LIFETIME_DAYS: u32 = 36_500;

/// One page of a keyset-paginated list; `next_cursor` fetches the next page, `None` on the last one.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// Which users to list: all filters combine; `text` matches username, email and display name
/// (case-insensitively, anywhere in them). Ordered by username; `after` is the last username of the previous
/// page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserQuery {
    pub text: Option<String>,
    pub role: Option<Role>,
    pub status: Option<UserStatus>,
    pub after: Option<String>,
    pub limit: u32,
}

/// A user with how much they hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserOverview {
    pub user: User,
    /// Keys in any status.
    pub keys: u64,
    /// Provisioning, active and retiring keys.
    pub live_keys: u64,
    /// Subscriptions in any status.
    pub subscriptions: u64,
    pub active_subscriptions: u64,
    pub pending_subscriptions: u64,
}

/// Which keys to list (every owner's). Newest first (ids are time-ordered); `after` is the last id of the
/// previous page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyQuery {
    pub user_id: Option<UserId>,
    pub status: Option<ApiKeyStatus>,
    pub after: Option<ApiKeyId>,
    pub limit: u32,
}

/// A key with its owner's username.
#[derive(Debug, Clone, PartialEq)]
pub struct OwnedKey {
    pub key: ApiKey,
    pub owner: String,
}

/// Which subscriptions to list (every owner's). Newest first; `after` is the last id of the previous page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubscriptionQuery {
    pub status: Option<SubscriptionStatus>,
    pub user_id: Option<UserId>,
    pub model_id: Option<ModelId>,
    pub after: Option<SubscriptionId>,
    pub limit: u32,
}

/// A subscription with its owner's username.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedSubscription {
    pub subscription: Subscription,
    pub owner: String,
}

/// One row of a subscription's status history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusHistoryEntry {
    /// `None` for the row that records the subscription's creation.
    pub from: Option<SubscriptionStatus>,
    pub to: SubscriptionStatus,
    pub reason: Option<String>,
    /// Who made the change; `None` for keyport itself (or a user since deleted).
    pub actor: Option<UserId>,
    pub at: DateTime<Utc>,
}

/// What an administrator changes on a model; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModelChanges {
    pub restricted: Option<bool>,
    pub hidden: Option<bool>,
    pub display_name: Option<String>,
    /// `Some(None)` removes the description.
    pub description: Option<Option<String>>,
    /// The quota new subscriptions get; existing subscriptions keep theirs.
    pub default_quota: Option<Limits>,
}

impl ModelChanges {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// What the change really changes on `model`, for the audit log: the old values and the new ones of
    /// the fields that differ (two JSON objects, empty when nothing would change).
    pub fn audit_values(&self, model: &Model) -> (Value, Value) {
        let mut before = Map::new();
        let mut after = Map::new();
        let mut note = |field: &str, old: Value, new: Value| {
            if old != new {
                before.insert(field.to_owned(), old);
                after.insert(field.to_owned(), new);
            }
        };
        if let Some(restricted) = self.restricted {
            note("restricted", json!(model.restricted), json!(restricted));
        }
        if let Some(hidden) = self.hidden {
            note("hidden", json!(model.hidden), json!(hidden));
        }
        if let Some(name) = &self.display_name {
            note("display_name", json!(model.display_name), json!(name));
        }
        if let Some(description) = &self.description {
            note("description", json!(model.description), json!(description));
        }
        if let Some(quota) = &self.default_quota {
            note("default_quota", json!(model.default_quota), json!(quota));
        }
        (Value::Object(before), Value::Object(after))
    }
}

/// When a model stops being restricted, its pending subscriptions are approved in the same transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct ReleasePending {
    /// The history rows' reason.
    pub reason: String,
    /// Each approved subscription gets an audit event like this one (action, actor, request), with its own
    /// target, before and after.
    pub audit: AuditEvent,
}

/// A model after an administrator's change, with the subscriptions the change approved.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelUpdated {
    pub model: Model,
    pub approved: Vec<SubscriptionId>,
}

/// What an administrator allows for self-service subscriptions and keys.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SelfServiceSettings {
    /// A subscription a user makes gets its model's default quota, but never more than this.
    pub subscription_max_quota: Limits,
    /// The limits the key forms prefill (the API itself takes unset limits from the tightest quota).
    pub key_default_limits: Limits,
    /// Caps on every key's limits, on top of its subscriptions' quotas.
    pub key_max_limits: Limits,
    /// Keys created without an expiry get this lifetime.
    pub key_default_lifetime_days: Option<u32>,
    /// The longest a key may live; keys without an expiry get it when there is no default.
    pub key_max_lifetime_days: Option<u32>,
    /// The only LiteLLM routes a key may call (inference routes only).
    pub allowed_routes: InferenceRoutes,
    /// How many live (provisioning or active) keys a user may hold.
    pub max_live_keys_per_user: u32,
    /// The longest a personal access token may live, in days; `None`: up to the built-in 366 days, or
    /// without expiry.
    pub token_max_lifetime_days: Option<u32>,
}

impl Default for SelfServiceSettings {
    fn default() -> Self {
        Self {
            subscription_max_quota: Limits::default(),
            key_default_limits: Limits::default(),
            key_max_limits: Limits::default(),
            key_default_lifetime_days: None,
            key_max_lifetime_days: None,
            allowed_routes: InferenceRoutes::default(),
            max_live_keys_per_user: DEFAULT_MAX_LIVE_KEYS,
            token_max_lifetime_days: None,
        }
    }
}

impl SelfServiceSettings {
    /// Checks the settings, naming each wrong field (`key_max_limits.tpm_limit`, …).
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        for (name, limits) in [
            ("subscription_max_quota", &self.subscription_max_quota),
            ("key_default_limits", &self.key_default_limits),
            ("key_max_limits", &self.key_max_limits),
        ] {
            if let Err(e) = limits.validate() {
                errors.extend(e.into_iter().map(|e| e.nested(name)));
            }
        }
        if errors.is_empty() {
            // An unset default prefills nothing (the key takes the tightest quota): only set ones count.
            errors.extend(
                self.key_default_limits
                    .clone()
                    .or(&self.key_max_limits)
                    .exceeding(&self.key_max_limits, "the maximum for keys")
                    .into_iter()
                    .map(|e| e.nested("key_default_limits")),
            );
        }
        for (name, days) in [
            ("key_default_lifetime_days", self.key_default_lifetime_days),
            ("key_max_lifetime_days", self.key_max_lifetime_days),
        ] {
            if days.is_some_and(|d| d == 0 || d > MAX_LIFETIME_DAYS) {
                errors.push(FieldError::new(
                    name,
                    format!("between 1 and {MAX_LIFETIME_DAYS} days, or absent for none"),
                ));
            }
        }
        if self
            .token_max_lifetime_days
            .is_some_and(|d| d == 0 || d > crate::usecases::MAX_TOKEN_DAYS)
        {
            errors.push(FieldError::new(
                "token_max_lifetime_days",
                format!(
                    "between 1 and {} days, or absent for no maximum",
                    crate::usecases::MAX_TOKEN_DAYS
                ),
            ));
        }
        if !(1..=MAX_LIVE_KEYS_LIMIT).contains(&self.max_live_keys_per_user) {
            errors.push(FieldError::new(
                "max_live_keys_per_user",
                format!("between 1 and {MAX_LIVE_KEYS_LIMIT}"),
            ));
        }
        if let (Some(default), Some(max)) =
            (self.key_default_lifetime_days, self.key_max_lifetime_days)
        {
            if default > max {
                errors.push(FieldError::new(
                    "key_default_lifetime_days",
                    format!("{default} days is longer than the maximum of {max} days"),
                ));
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    pub fn key_default_lifetime(&self) -> Option<Duration> {
        self.key_default_lifetime_days
            .map(|d| Duration::days(i64::from(d)))
    }

    pub fn key_max_lifetime(&self) -> Option<Duration> {
        self.key_max_lifetime_days
            .map(|d| Duration::days(i64::from(d)))
    }

    /// The quota a self-service subscription gets from a model's default: the default where it is within
    /// `subscription_max_quota`, the maximum where it is not.
    pub fn cap_subscription_quota(&self, default: &Limits) -> Limits {
        let cap = &self.subscription_max_quota;
        let tightest = Limits::tightest([default, cap]);
        if tightest.exceeding(cap, "").is_empty() {
            tightest
        } else {
            // A budget that resets more often than the cap's window can add up to more than the cap.
            Limits {
                max_budget: cap.max_budget,
                budget_duration: cap.budget_duration.clone(),
                ..tightest
            }
        }
    }
}

/// The user directory.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait UserDirectory: Send + Sync {
    /// At most `query.limit` users matching the query, by username.
    async fn search_users(&self, query: &UserQuery) -> Result<Vec<User>, StoreError>;
    async fn user_overview(&self, id: UserId) -> Result<Option<UserOverview>, StoreError>;
    /// Replaces a user's roles (normalised: `user` first, then `admin`, `auditor`). The active
    /// administrators are locked first, so that two concurrent changes cannot both remove the last one.
    /// MUST answer `NotFound` for an unknown user and `Conflict(LastActiveAdmin)`,
    /// changing nothing, when no active administrator would remain.
    async fn change_roles(
        &self,
        id: UserId,
        roles: &[Role],
        at: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<User, StoreError>;
    /// Suspends a user like [`crate::ports::UserStore::change_user_status`] (a `ConvergeKey` job for each
    /// of their active and retiring keys, in the same transaction), with the active administrators locked
    /// first as in [`UserDirectory::change_roles`]. MUST answer `NotFound` for an unknown user and
    /// `Conflict(LastActiveAdmin)`, changing nothing, when no active administrator would
    /// remain.
    async fn suspend_user(
        &self,
        id: UserId,
        at: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<User, StoreError>;
}

/// Everybody's keys.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait AdminKeyStore: Send + Sync {
    /// At most `query.limit` keys matching the query, newest first, with their subscriptions, models and
    /// owner; in a constant number of queries.
    async fn list_all_keys(&self, query: &KeyQuery) -> Result<Vec<OwnedKey>, StoreError>;
    /// One key of any owner, with its subscriptions, models and owner; `None` for an unknown key.
    async fn owned_key(&self, id: ApiKeyId) -> Result<Option<OwnedKey>, StoreError>;
}

/// Everybody's subscriptions, their history, and the model changes that approve pending ones.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait ApprovalStore: Send + Sync {
    /// At most `query.limit` subscriptions matching the query, newest first, with their owner.
    async fn list_all_subscriptions(
        &self,
        query: &SubscriptionQuery,
    ) -> Result<Vec<OwnedSubscription>, StoreError>;
    /// The subscription's status history, oldest first; `None` for an unknown subscription.
    async fn subscription_history(
        &self,
        id: SubscriptionId,
    ) -> Result<Option<Vec<StatusHistoryEntry>>, StoreError>;
    /// Applies the changes to the model with the audit event, whose `before` and `after` are set from the
    /// model as locked in the transaction ([`ModelChanges::audit_values`]). With `release`, and when the model was
    /// restricted and is not any more, every `pending` subscription to it becomes `active` in the same
    /// transaction, each with a history row (the release's reason and actor) and its own audit event.
    /// MUST answer `NotFound` for an unknown model.
    async fn update_model(
        &self,
        id: &ModelId,
        changes: &ModelChanges,
        release: Option<ReleasePending>,
        at: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<ModelUpdated, StoreError>;
}

/// The stored self-service settings.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait SettingsStore: Send + Sync {
    /// `None` until an administrator first saves settings.
    async fn get_settings(&self) -> Result<Option<SelfServiceSettings>, StoreError>;
    /// Saves the settings (replacing any). The audit event's `before` is set to the settings as they were
    /// stored, read in the same transaction, when there were any.
    async fn put_settings(
        &self,
        settings: &SelfServiceSettings,
        at: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<SelfServiceSettings, StoreError>;
}

/// The settings in force: the stored ones, or the initial ones (from the server's configuration) until an
/// administrator saves some.
#[derive(Clone)]
pub struct SettingsSource {
    store: Arc<dyn SettingsStore>,
    initial: SelfServiceSettings,
}

impl SettingsSource {
    pub fn new(store: Arc<dyn SettingsStore>, initial: SelfServiceSettings) -> Self {
        Self { store, initial }
    }

    pub async fn current(&self) -> Result<SelfServiceSettings, StoreError> {
        Ok(self.current_with_origin().await?.0)
    }

    /// The settings in force, and whether they are stored (`false`: the initial ones).
    pub async fn current_with_origin(&self) -> Result<(SelfServiceSettings, bool), StoreError> {
        Ok(match self.store.get_settings().await? {
            Some(stored) => (stored, true),
            None => (self.initial.clone(), false),
        })
    }

    pub fn store(&self) -> &Arc<dyn SettingsStore> {
        &self.store
    }
}

impl std::fmt::Debug for SettingsSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SettingsSource")
            .field("initial", &self.initial)
            .finish_non_exhaustive()
    }
}

/// Cuts a page fetched with one item more than `limit` down to `limit`, with the cursor of its last item
/// when there is more.
pub fn paginate<T>(mut items: Vec<T>, limit: u32, cursor: impl Fn(&T) -> String) -> Page<T> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let more = items.len() > limit;
    items.truncate(limit);
    let next_cursor = if more { items.last().map(cursor) } else { None };
    Page { items, next_cursor }
}

/// A page size: `None` is the default; 1 to [`MAX_PAGE_SIZE`].
pub fn page_size(limit: Option<u32>) -> Result<u32, FieldError> {
    match limit {
        None => Ok(DEFAULT_PAGE_SIZE),
        Some(n) if (1..=MAX_PAGE_SIZE).contains(&n) => Ok(n),
        Some(_) => Err(FieldError::new(
            "limit",
            format!("between 1 and {MAX_PAGE_SIZE}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::{BudgetDuration, Money};
    use rust_decimal::Decimal;

    fn budget(amount: i64, window: &str) -> Limits {
        Limits {
            max_budget: Some(Money::new(Decimal::from(amount)).unwrap()),
            budget_duration: Some(BudgetDuration::parse(window).unwrap()),
            ..Limits::default()
        }
    }

    #[test]
    fn settings_name_each_wrong_field() {
        let settings = SelfServiceSettings {
            key_default_limits: Limits {
                rpm_limit: Some(100),
                ..Limits::default()
            },
            key_max_limits: Limits {
                rpm_limit: Some(10),
                tpm_limit: Some(0),
                ..Limits::default()
            },
            key_default_lifetime_days: Some(90),
            key_max_lifetime_days: Some(30),
            ..SelfServiceSettings::default()
        };
        let fields: Vec<_> = settings
            .validate()
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(
            fields,
            ["key_max_limits.tpm_limit", "key_default_lifetime_days"]
        );
        let settings = SelfServiceSettings {
            key_max_limits: Limits {
                rpm_limit: Some(10),
                ..Limits::default()
            },
            key_default_limits: Limits {
                rpm_limit: Some(100),
                ..Limits::default()
            },
            key_max_lifetime_days: Some(0),
            ..SelfServiceSettings::default()
        };
        let fields: Vec<_> = settings
            .validate()
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(
            fields,
            ["key_default_limits.rpm_limit", "key_max_lifetime_days"]
        );
        assert!(SelfServiceSettings::default().validate().is_ok());
    }

    #[test]
    fn the_cap_on_live_keys_is_between_one_and_a_thousand() {
        for refused in [0, MAX_LIVE_KEYS_LIMIT + 1] {
            let settings = SelfServiceSettings {
                max_live_keys_per_user: refused,
                ..SelfServiceSettings::default()
            };
            let errors = settings.validate().unwrap_err();
            let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
            assert_eq!(fields, ["max_live_keys_per_user"], "{refused}");
        }
        assert_eq!(MAX_LIVE_KEYS_LIMIT + 1, 1001);
        for allowed in [1, MAX_LIVE_KEYS_LIMIT] {
            let settings = SelfServiceSettings {
                max_live_keys_per_user: allowed,
                ..SelfServiceSettings::default()
            };
            assert!(settings.validate().is_ok(), "{allowed}");
        }
        assert_eq!(
            SelfServiceSettings::default().max_live_keys_per_user,
            DEFAULT_MAX_LIVE_KEYS
        );
    }

    #[test]
    fn a_subscription_quota_is_the_model_default_within_the_cap() {
        let settings = SelfServiceSettings {
            subscription_max_quota: Limits {
                tpm_limit: Some(1_000),
                ..budget(10, "30d")
            },
            ..SelfServiceSettings::default()
        };
        let within = Limits {
            rpm_limit: Some(5),
            ..budget(5, "30d")
        };
        assert_eq!(
            settings.cap_subscription_quota(&within),
            Limits {
                tpm_limit: Some(1_000),
                ..within.clone()
            }
        );
        assert_eq!(
            settings.cap_subscription_quota(&Limits::UNLIMITED),
            settings.subscription_max_quota
        );
        let daily = budget(5, "1d");
        let capped = settings.cap_subscription_quota(&daily);
        assert_eq!(capped.max_budget, budget(10, "30d").max_budget);
        assert_eq!(capped.budget_duration, budget(10, "30d").budget_duration);
        assert_eq!(
            SelfServiceSettings::default().cap_subscription_quota(&daily),
            daily,
            "no cap, no change"
        );
    }

    #[test]
    fn page_sizes_are_bounded() {
        assert_eq!(page_size(None), Ok(DEFAULT_PAGE_SIZE));
        assert_eq!(page_size(Some(MAX_PAGE_SIZE)), Ok(MAX_PAGE_SIZE));
        assert_eq!(page_size(Some(0)).unwrap_err().field, "limit");
        assert!(page_size(Some(MAX_PAGE_SIZE + 1)).is_err());
    }
}
