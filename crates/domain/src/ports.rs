//! The ports: everything keyport needs from the outside world, as traits. Adapters implement them
//! (`keyport-postgres` the stores, `keyport-litellm` the gateway, the server the clock and secret source);
//! use-case tests use the mockall mocks generated here behind the `mocks` feature.
//!
//! Store contract, common to every mutating method: the change and its audit event commit together in one
//! transaction or not at all. `StoreError::Unavailable` means nothing was committed.

use crate::api_key::{ApiKey, NewApiKey};
use crate::audit::AuditEvent;
use crate::error::{GatewayError, StoreError};
use crate::ids::{AccessTokenId, ApiKeyId, ModelId, SubscriptionId, UserId};
use crate::limits::{Limits, Money};
use crate::model::{CatalogEntry, Model};
use crate::secret::{KeyHash, KeyPrefix, KeySecret, RANDOM_BYTES};
use crate::subscription::{Subscription, SubscriptionStatus};
use crate::user::User;
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// The time, so that tests can fix it.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// A source of cryptographically secure random bytes for new secrets.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait SecretGenerator: Send + Sync {
    fn random_bytes(&self) -> [u8; RANDOM_BYTES];
}

/// A personal access token for the REST API, as stored (hash only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessToken {
    pub id: AccessTokenId,
    pub user_id: UserId,
    pub name: String,
    pub prefix: KeyPrefix,
    pub hash: KeyHash,
    pub scopes: Vec<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Inserts a user, and optionally a first access token, in one transaction.
    /// MUST answer `Conflict { constraint: "users_username" }` when the username is taken.
    async fn insert_user(
        &self,
        user: &User,
        token: Option<AccessToken>,
        audit: &AuditEvent,
    ) -> Result<(), StoreError>;
    async fn get_user(&self, id: UserId) -> Result<Option<User>, StoreError>;
    async fn find_user_by_username(&self, username: &str) -> Result<Option<User>, StoreError>;
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait AccessTokenStore: Send + Sync {
    async fn insert_access_token(
        &self,
        token: &AccessToken,
        audit: &AuditEvent,
    ) -> Result<(), StoreError>;
    /// The token with this hash that is neither revoked nor expired at `now`, with its user. Records the
    /// use in `last_used_at` at most once a minute (so that reads stay cheap).
    async fn find_live_access_token(
        &self,
        hash: &KeyHash,
        now: DateTime<Utc>,
    ) -> Result<Option<(AccessToken, User)>, StoreError>;
}

/// What a catalog sync changes, applied in one transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogChanges {
    /// Models to insert or refresh. Refreshing touches only the fields LiteLLM owns (provider,
    /// capabilities, context window, prices) and marks the model available; the fields an admin edits
    /// (display name, description, restricted, hidden, default quota) are kept.
    pub upserts: Vec<CatalogEntry>,
    /// Models LiteLLM no longer lists: marked unavailable, never deleted.
    pub vanished: Vec<ModelId>,
    pub synced_at: DateTime<Utc>,
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait ModelStore: Send + Sync {
    /// Every model, ordered by id.
    async fn list_models(&self) -> Result<Vec<Model>, StoreError>;
    async fn get_model(&self, id: &ModelId) -> Result<Option<Model>, StoreError>;
    async fn apply_catalog(&self, changes: &CatalogChanges) -> Result<(), StoreError>;
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait SubscriptionStore: Send + Sync {
    async fn get_subscription(
        &self,
        id: SubscriptionId,
    ) -> Result<Option<Subscription>, StoreError>;
    /// The subscriptions with these ids that exist (any owner), in no particular order.
    async fn get_subscriptions(
        &self,
        ids: &[SubscriptionId],
    ) -> Result<Vec<Subscription>, StoreError>;
    async fn find_subscription(
        &self,
        user: UserId,
        model: &ModelId,
    ) -> Result<Option<Subscription>, StoreError>;
    /// A user's subscriptions, newest first.
    async fn list_subscriptions(&self, user: UserId) -> Result<Vec<Subscription>, StoreError>;
    /// Inserts a subscription and its first status-history row.
    /// MUST answer `Conflict { constraint: "subscriptions_user_model" }` when the user already has one for
    /// the model.
    async fn insert_subscription(
        &self,
        subscription: &Subscription,
        audit: &AuditEvent,
    ) -> Result<(), StoreError>;
    /// Moves a subscription from `from` to `to` (recording the history row, and replacing the quota when one
    /// is given). MUST answer `NotFound` when the subscription is no longer in status `from`, changing
    /// nothing.
    #[allow(clippy::too_many_arguments)]
    async fn change_subscription_status(
        &self,
        id: SubscriptionId,
        from: SubscriptionStatus,
        to: SubscriptionStatus,
        reason: Option<String>,
        quota: Option<Limits>,
        at: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<Subscription, StoreError>;
    /// How many live keys (provisioning, active, retiring) are bound to the subscription.
    async fn count_live_keys(&self, id: SubscriptionId) -> Result<u64, StoreError>;
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait ApiKeyStore: Send + Sync {
    /// Inserts the key as `provisioning` with its subscription links.
    /// MUST answer `Conflict { constraint: "api_keys_live_name" }` when the user has a live key of that name,
    /// and `Conflict { constraint: "api_keys_key_hash" }` for a hash already known.
    async fn insert_provisioning_key(
        &self,
        key: &NewApiKey,
        audit: &AuditEvent,
    ) -> Result<(), StoreError>;
    /// `provisioning → active`, recording the sync time. MUST answer `NotFound` when the key is not
    /// `provisioning`, changing nothing.
    async fn activate_key(
        &self,
        id: ApiKeyId,
        at: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<ApiKey, StoreError>;
    /// `provisioning → failed`, keeping the reason. MUST answer `NotFound` when the key is not
    /// `provisioning`.
    async fn fail_key(
        &self,
        id: ApiKeyId,
        reason: &str,
        at: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<(), StoreError>;
    /// `active | retiring → revoked`, with the LiteLLM side marked pending. MUST answer `NotFound` when the
    /// key is in another status.
    async fn revoke_key(
        &self,
        id: ApiKeyId,
        at: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<ApiKey, StoreError>;
    /// Records that LiteLLM now matches the row.
    async fn mark_key_synced(&self, id: ApiKeyId, at: DateTime<Utc>) -> Result<(), StoreError>;
    /// Records that LiteLLM could not be brought in line (the change stays pending).
    async fn record_key_sync_error(
        &self,
        id: ApiKeyId,
        error: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    async fn get_key(&self, id: ApiKeyId) -> Result<Option<ApiKey>, StoreError>;
    /// A user's keys, newest first, with their subscriptions and models.
    async fn list_keys(&self, user: UserId) -> Result<Vec<ApiKey>, StoreError>;
    async fn live_key_name_taken(&self, user: UserId, name: &str) -> Result<bool, StoreError>;
}

/// What keyport asks LiteLLM to create: a virtual key with a secret keyport chose.
#[derive(Debug, Clone)]
pub struct GenerateKey {
    pub secret: KeySecret,
    pub alias: String,
    pub user_id: UserId,
    /// Never empty: LiteLLM reads `[]` as "every model".
    pub models: Vec<ModelId>,
    pub limits: Limits,
    /// Seconds until the key expires, `None` for never.
    pub expires_in_seconds: Option<i64>,
    /// Names the keyport key so that the reconciler can recognise keyport's keys.
    pub metadata: serde_json::Value,
}

/// LiteLLM's status for a key (`/key/info`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GatewayKeyStatus {
    Active,
    Expired,
    Blocked,
}

/// A key as LiteLLM reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct GatewayKey {
    pub hash: KeyHash,
    pub alias: Option<String>,
    pub user_id: Option<String>,
    pub models: Vec<String>,
    pub status: GatewayKeyStatus,
    pub max_budget: Option<Money>,
    pub budget_duration: Option<String>,
    pub tpm_limit: Option<u64>,
    pub rpm_limit: Option<u64>,
    pub spend: Option<Money>,
    pub budget_reset_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub metadata: serde_json::Value,
}

/// LiteLLM's admin API, as keyport uses it.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait Gateway: Send + Sync {
    /// `/key/generate` with the caller-chosen secret. Not idempotent: on `Unavailable` the key may or may
    /// not exist; ask [`Gateway::key_info`] before deciding.
    async fn generate_key(&self, request: &GenerateKey) -> Result<GatewayKey, GatewayError>;
    /// `/key/info` by hash. `Ok(None)` when LiteLLM does not know the key (or only as deleted).
    async fn key_info(&self, hash: &KeyHash) -> Result<Option<GatewayKey>, GatewayError>;
    /// `/key/block`. `Err(NotFound)` when LiteLLM does not know the key.
    async fn block_key(&self, hash: &KeyHash) -> Result<(), GatewayError>;
    /// `/key/delete`. `Err(NotFound)` when LiteLLM does not know the key.
    async fn delete_key(&self, hash: &KeyHash) -> Result<(), GatewayError>;
    /// The public models (`/model_group/info`).
    async fn model_catalog(&self) -> Result<Vec<CatalogEntry>, GatewayError>;
}
