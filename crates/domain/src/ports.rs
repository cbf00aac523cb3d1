//! The ports: everything keyport needs from the outside world, as traits. Adapters implement them
//! (`keyport-postgres` the stores, `keyport-litellm` the gateway, the server the clock and secret source);
//! use-case tests use the mockall mocks generated here behind the `mocks` feature.
//!
//! Store contract, common to every mutating method: the change and its audit event commit together in one
//! transaction or not at all. `StoreError::Unavailable` means nothing was committed.

use crate::access::{GatewayUserState, UserAccess};
use crate::api_key::{ApiKey, ApiKeyStatus, KeyUpdate, NewApiKey};
use crate::audit::AuditEvent;
use crate::error::{GatewayError, StoreError};
use crate::ids::{AccessTokenId, ApiKeyId, ModelId, SubscriptionId, UserId};
use crate::job::{Job, JobStatus, JobSummary};
use crate::limits::{Limits, Money};
use crate::model::{CatalogEntry, Model};
use crate::rate_limit::{RateDecision, RateLimit};
use crate::secret::{KeyHash, KeyPrefix, KeySecret, RANDOM_BYTES};
use crate::subscription::{Subscription, SubscriptionStatus};
use crate::user::{Role, User, UserStatus};
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

impl AccessToken {
    /// `active`, `expired` or `revoked` at `now`.
    pub fn status(&self, now: DateTime<Utc>) -> &'static str {
        if self.revoked_at.is_some() {
            "revoked"
        } else if self.expires_at.is_some_and(|e| e <= now) {
            "expired"
        } else {
            "active"
        }
    }

    /// Whether the token still authenticates at `now`.
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.status(now) == "active"
    }
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Inserts a user, and optionally a first access token, in one transaction.
    /// MUST answer `Conflict(UsernameTaken)` when the username is taken.
    async fn insert_user(
        &self,
        user: &User,
        token: Option<AccessToken>,
        audit: &AuditEvent,
    ) -> Result<(), StoreError>;
    async fn get_user(&self, id: UserId) -> Result<Option<User>, StoreError>;
    async fn find_user_by_username(&self, username: &str) -> Result<Option<User>, StoreError>;
    /// The users with these ids that exist, in one query.
    async fn get_users(&self, ids: &[UserId]) -> Result<Vec<User>, StoreError>;
    /// Sets a user's status and queues a `ConvergeKey` job for each of their active and retiring keys (a
    /// suspended owner's keys are blocked in LiteLLM, a reactivated one's unblocked), in one transaction.
    /// MUST answer `NotFound` for an unknown user.
    async fn change_user_status(
        &self,
        id: UserId,
        status: UserStatus,
        at: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<User, StoreError>;
    /// Replaces a user's roles (stored normalised: see [`crate::user::normalize_roles`]). MUST answer
    /// `NotFound` for an unknown user.
    async fn set_user_roles(
        &self,
        id: UserId,
        roles: &[Role],
        at: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<User, StoreError>;
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
    /// A user's tokens (revoked ones included), newest first.
    async fn list_access_tokens(&self, user: UserId) -> Result<Vec<AccessToken>, StoreError>;
    /// Revokes one of the user's tokens. MUST answer `NotFound` when the user has no such live token.
    async fn revoke_access_token(
        &self,
        id: AccessTokenId,
        user: UserId,
        at: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<AccessToken, StoreError>;
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
    /// MUST answer `Conflict(AlreadySubscribed)` when the user already has one for the model.
    async fn insert_subscription(
        &self,
        subscription: &Subscription,
        audit: &AuditEvent,
    ) -> Result<(), StoreError>;
    /// Moves a subscription from `from` to `to` (recording the history row, and replacing the quota when one
    /// is given). MUST answer `NotFound` when the subscription is no longer in status `from`, changing
    /// nothing.
    #[expect(
        clippy::too_many_arguments,
        reason = "a status change names the subscription, both statuses, why, the new quota, when and its audit event"
    )]
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
    /// Like [`SubscriptionStore::change_subscription_status`], and in the same transaction applies the
    /// effects on the keys bound to the subscription: the keys in `effects.revoke` become `revoked` (if
    /// still `active` or `retiring`, each with its own `api_key.revoke` audit event by the same actor), the
    /// keys in `effects.converge` (if still `active` or `retiring`) are marked pending, and a `ConvergeKey`
    /// job is queued for every key in `effects.revoke` and `effects.converge`, so that LiteLLM follows (a
    /// key's models are always those of its active subscriptions). MUST answer `NotFound`, changing
    /// nothing, when the subscription is no longer in status `from`.
    #[expect(
        clippy::too_many_arguments,
        reason = "a status change names the subscription, both statuses, why, its effects on keys, when and its audit event"
    )]
    async fn change_subscription_status_cascading(
        &self,
        id: SubscriptionId,
        from: SubscriptionStatus,
        to: SubscriptionStatus,
        reason: Option<String>,
        effects: &KeyEffects,
        at: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<Subscription, StoreError>;
    /// Replaces the quota of an `active` or `suspended` subscription (LiteLLM follows through the owner's
    /// `ConvergeUser` job, queued in the same transaction). MUST answer `NotFound`, changing nothing, when
    /// the subscription is in another status.
    async fn change_subscription_quota(
        &self,
        id: SubscriptionId,
        quota: &Limits,
        at: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<Subscription, StoreError>;
    /// How many live keys (provisioning, active, retiring) are bound to the subscription.
    async fn count_live_keys(&self, id: SubscriptionId) -> Result<u64, StoreError>;
    /// The `active` and `retiring` keys bound to the subscription, with all their subscriptions and models.
    async fn keys_bound_to(&self, id: SubscriptionId) -> Result<Vec<ApiKey>, StoreError>;
}

/// What [`ApiKeyStore::insert_provisioning_key`] learnt on the way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeyInserted {
    /// The owner's subscriptions changed since LiteLLM last got their pools: converge the user first.
    pub owner_access_pending: bool,
}

/// A user's LiteLLM access as keyport records it: the user, all their subscriptions, and which version of
/// them LiteLLM holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRecord {
    pub user: User,
    pub subscriptions: Vec<Subscription>,
    /// Grows with every change of the user's subscriptions (the database counts them).
    pub version: i64,
    /// The version LiteLLM was last brought to.
    pub synced_version: i64,
}

impl AccessRecord {
    pub fn is_pending(&self) -> bool {
        self.synced_version < self.version
    }

    /// What LiteLLM must hold for this user.
    pub fn access(&self) -> UserAccess {
        UserAccess::of(
            self.user.id,
            self.user.email.clone(),
            self.user.display_name.clone(),
            &self.subscriptions,
        )
    }
}

/// Each user's LiteLLM access (role, models, spend and rate pools; docs/quotas.md). Changes of a user's
/// subscriptions raise their version and queue a `ConvergeUser` job in the change's own transaction (the
/// subscription stores do it; the PostgreSQL adapter with a trigger, so no write path can forget it).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait AccessStore: Send + Sync {
    /// The user with all their subscriptions and versions; `None` for an unknown user.
    async fn access_record(&self, user: UserId) -> Result<Option<AccessRecord>, StoreError>;
    /// The records of these users (unknown ids skipped), in a constant number of queries.
    async fn access_records(&self, users: &[UserId]) -> Result<Vec<AccessRecord>, StoreError>;
    /// Records that LiteLLM holds `version` of the user's access (never moving backwards; a later change
    /// keeps the user pending), clearing the last error.
    async fn mark_access_synced(
        &self,
        user: UserId,
        version: i64,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Records why LiteLLM could not be brought in line yet.
    async fn record_access_error(
        &self,
        user: UserId,
        error: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Queues a `ConvergeUser` job for each user (an earlier pending one keeps the earlier due time).
    async fn enqueue_converge_users(
        &self,
        users: &[UserId],
        run_at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
}

/// What a subscription change does to the keys bound to it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyEffects {
    /// Keys left without any model: revoked.
    pub revoke: Vec<ApiKeyId>,
    /// Keys whose models change: LiteLLM is updated.
    pub converge: Vec<ApiKeyId>,
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait ApiKeyStore: Send + Sync {
    /// Inserts the key as `provisioning` with its subscription links. With `max_live_keys`, the owner's
    /// row is locked first and the insert refused when they already hold that many `provisioning` or
    /// `active` keys, so that concurrent creates cannot pass the cap together (a rotation passes `None`: it
    /// replaces a key). Answers whether the owner's LiteLLM access is pending (see [`AccessStore`]).
    /// MUST answer `Conflict(KeyNameTaken)` when the user has a live key of that name,
    /// `Conflict(LiveKeyCapReached)` at the cap, and `Conflict(Other(_))` for a hash already known.
    async fn insert_provisioning_key(
        &self,
        key: &NewApiKey,
        max_live_keys: Option<u32>,
        audit: &AuditEvent,
    ) -> Result<KeyInserted, StoreError>;
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
    /// `active | retiring → revoked`, with the LiteLLM side marked pending, and queues a `ConvergeKey` job
    /// (which deletes the key in LiteLLM), in one transaction. MUST answer `NotFound` when the key is in
    /// another status.
    async fn revoke_key(
        &self,
        id: ApiKeyId,
        at: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<ApiKey, StoreError>;
    /// Records that LiteLLM now matches the row.
    async fn mark_key_synced(&self, id: ApiKeyId, at: DateTime<Utc>) -> Result<(), StoreError>;
    /// Records why a pending change has not reached LiteLLM yet. A key that is no longer pending (a worker
    /// synced it meanwhile) is left as it is. MUST answer `NotFound` only for an unknown key.
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

    /// Applies a change to an `active` key (name, limits, expiry; the subscription links are replaced by
    /// the given set), marks the LiteLLM side pending and queues a `ConvergeKey` job, in one transaction.
    /// MUST answer `NotFound` when the key is not `active` (or a subscription is not the owner's), and
    /// `Conflict(KeyNameTaken)` for a name another provisioning or active key of the user holds.
    async fn update_key(
        &self,
        id: ApiKeyId,
        update: &KeyUpdate,
        at: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<ApiKey, StoreError>;
    /// Ends a rotation in one transaction: the old key `active → retiring` with `retire_at` and
    /// `replaced_by`, which gives up its name (only provisioning and active keys hold a name, see
    /// [`crate::ConflictKind::KeyNameTaken`]); the new key `provisioning → active` (synced at `at`) under
    /// the old key's name; and a `ConvergeKey` job for the old key due at `retire_at`. Answers the new key.
    /// MUST answer `NotFound` (changing nothing) when the new key is not `provisioning`, the old one not
    /// `active` or blocked by an administrator, or they belong to different users.
    async fn complete_rotation(
        &self,
        new_key: ApiKeyId,
        old_key: ApiKeyId,
        retire_at: DateTime<Utc>,
        at: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<ApiKey, StoreError>;
    /// An administrator blocks (`Some(reason)`) or unblocks (`None`) an `active` or `retiring` key: the block
    /// (since `at`, with its reason) is recorded or cleared, the LiteLLM side marked pending and a
    /// `ConvergeKey` job queued (which blocks or unblocks the key in LiteLLM), with the audit event, in one
    /// transaction. MUST answer `NotFound`, changing nothing, when the key is not `active` or `retiring`, or
    /// is already blocked (when blocking) or not blocked (when unblocking).
    async fn set_key_block(
        &self,
        id: ApiKeyId,
        reason: Option<String>,
        at: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<ApiKey, StoreError>;
    /// Moves a key from one of `from` to `to` (setting `revoked_at` for `revoked`, clearing `retire_at`,
    /// marking the LiteLLM side pending) and queues a `ConvergeKey` job, in one transaction. MUST answer
    /// `NotFound` when the key is in none of `from`. `to` may not be `retiring` (only
    /// [`ApiKeyStore::complete_rotation`] sets a deadline), and every status in `from` must be able to
    /// become `to` ([`ApiKeyStatus::can_become`]); otherwise `Unexpected`, changing nothing.
    async fn change_key_status(
        &self,
        id: ApiKeyId,
        from: &[ApiKeyStatus],
        to: ApiKeyStatus,
        at: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<ApiKey, StoreError>;
    /// Marks every `active` or `retiring` key whose `expires_at` is at or before `now` as `expired`, with a
    /// system audit event and a `ConvergeKey` job each, and answers their ids.
    async fn expire_due_keys(&self, now: DateTime<Utc>) -> Result<Vec<ApiKeyId>, StoreError>;

    /// The keys with these hashes (any owner, any status; unknown hashes are skipped), with their
    /// subscriptions and models as [`ApiKeyStore::get_key`] has them, for the reconciler; in a constant
    /// number of queries however many hashes.
    async fn keys_by_hashes(&self, hashes: &[KeyHash]) -> Result<Vec<ApiKey>, StoreError>;
    /// Every key in one of `statuses` with an id greater than `after` (from the first with `None`), in id
    /// order, at most `limit`, with its subscriptions and models: the reconciler pages through keyport's
    /// side with it, passing the last id of a page as the next `after`. Empty when `statuses` is.
    async fn keys_after(
        &self,
        after: Option<ApiKeyId>,
        statuses: &[ApiKeyStatus],
        limit: u32,
    ) -> Result<Vec<ApiKey>, StoreError>;
    /// Records the spend LiteLLM reports for keys (and when its budget resets), read at `read_at`, in one
    /// statement. Readings for unknown keys are ignored, and so is a reading older than the one a key
    /// already has; of several readings for one key the last counts. Does not touch `updated_at`.
    async fn record_spend(
        &self,
        readings: &[SpendReading],
        read_at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
}

/// A key's spend as LiteLLM reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpendReading {
    pub key: ApiKeyId,
    pub spend: Money,
    pub budget_reset_at: Option<DateTime<Utc>>,
}

/// Audit events that belong to no other store's change (e.g. the reconciler deleting a LiteLLM key that no
/// row knows).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait AuditLog: Send + Sync {
    async fn append(&self, event: &AuditEvent) -> Result<(), StoreError>;
}

/// One leader among replicas for work that must not run twice at once (the reconciler).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait Leadership: Send + Sync {
    /// Tries to become the leader for `name` (a PostgreSQL advisory lock held on a dedicated connection);
    /// `None` when another process is. Leadership ends when the guard is dropped.
    async fn try_lead(&self, name: &str) -> Result<Option<LeaderGuard>, StoreError>;
}

/// Held while leading; dropping it ends the leadership.
pub struct LeaderGuard(pub Box<dyn std::any::Any + Send + Sync>);

impl std::fmt::Debug for LeaderGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LeaderGuard")
    }
}

/// Token buckets shared by every replica (see [`crate::rate_limit`]): one per limiter (`login`,
/// `auth_failures`) and client address group. Only counted events (failed authentications, calls to the
/// login endpoints) reach it, never a request with a valid credential.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait RateLimitStore: Send + Sync {
    /// Takes one token from the bucket of `group` under `limiter`, sized by `limit`, as one atomic step: of
    /// any number of concurrent takes, by any number of processes, at most as many are granted as the bucket
    /// held. A bucket not seen before starts full. MUST take nothing when it refuses.
    async fn take(
        &self,
        limiter: &str,
        group: &str,
        limit: RateLimit,
    ) -> Result<RateDecision, StoreError>;
    /// Forgets the buckets of `limiter` untouched for at least `idle` (pass [`RateLimit::full_after`]: they
    /// are full again, so forgetting them changes no answer); answers how many.
    async fn prune(&self, limiter: &str, idle: std::time::Duration) -> Result<u64, StoreError>;
}

/// The outbox. Enqueuing happens inside the stores' transactions (see the contracts above); these methods
/// are the workers' side.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait JobStore: Send + Sync {
    /// Claims up to `limit` due jobs — `pending` with `run_at <= now`, or `running` whose lease ended before
    /// `now` (a worker died) — with `FOR UPDATE SKIP LOCKED`, so that concurrent workers never claim the same
    /// job; each becomes `running` with a lease until `lease_until` and one more attempt.
    async fn claim_jobs(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Job>, StoreError>;
    async fn complete_job(&self, id: i64, at: DateTime<Utc>) -> Result<(), StoreError>;
    /// Back to `pending`, due at `run_at`, keeping the error.
    async fn retry_job(
        &self,
        id: i64,
        error: &str,
        run_at: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Gives up: `dead`, keeping the error.
    async fn bury_job(&self, id: i64, error: &str, at: DateTime<Utc>) -> Result<(), StoreError>;
    /// Queues a `ConvergeKey` job for the key, due at `run_at`, unless one is already pending for it (then
    /// the earlier due time wins).
    async fn enqueue_converge(
        &self,
        key: ApiKeyId,
        run_at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    async fn job_summary(&self) -> Result<JobSummary, StoreError>;
    /// Jobs in a status, most recently updated first.
    async fn list_jobs(&self, status: JobStatus, limit: u32) -> Result<Vec<Job>, StoreError>;
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
    /// The owner's team ([`crate::access::team_id_of`]): the rate pools of its subscriptions.
    pub team_id: String,
    /// The only routes the key may call (never empty: LiteLLM reads `[]` as no restriction).
    pub allowed_routes: Vec<String>,
    /// The spend the key starts with (a rotated key carries its predecessor's spend in the window).
    pub spend: Option<Money>,
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
    pub team_id: Option<String>,
    /// The routes the key may call; empty means no restriction beyond its owner's role.
    pub allowed_routes: Vec<String>,
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
    /// The public models (`/model_group/info`): one entry per model group, the name a key's `models`
    /// lists.
    async fn model_catalog(&self) -> Result<Vec<CatalogEntry>, GatewayError>;
    /// `/key/update` with the key's whole desired state (models, limits, expiry, blocked, metadata), so that
    /// repeating it is harmless. `Err(NotFound)` when LiteLLM does not know the key.
    async fn update_key(&self, request: &UpdateKey) -> Result<GatewayKey, GatewayError>;
    /// `/key/unblock`. `Err(NotFound)` when LiteLLM does not know the key.
    async fn unblock_key(&self, hash: &KeyHash) -> Result<(), GatewayError>;
    /// One page (1-based) of every key LiteLLM holds, as full objects (`/key/list?return_full_object=true`).
    async fn list_keys(&self, page: u32, size: u32) -> Result<GatewayKeyPage, GatewayError>;

    /// Makes sure LiteLLM has the user (`/user/new` without a key of its own, with the role
    /// [`crate::access::GATEWAY_USER_ROLE`] and no model until [`Gateway::set_user_access`] gives it its
    /// subscriptions'), e.g. on login. Idempotent: a user that already exists is `Ok` and is left as it is
    /// (its email and alias are not updated). `Err(Conflict { field: "user_email" })` when another LiteLLM user
    /// has that email (compared case-insensitively); `Invalid` for a request LiteLLM refuses; like every
    /// call, `Unavailable` when the outcome is unknown (then simply call again).
    async fn ensure_user(&self, user: &GatewayUser) -> Result<(), GatewayError>;
    /// `/user/info`: the user's spend, budget and keys; `Ok(None)` when LiteLLM does not know the user.
    async fn user_info(&self, user_id: UserId) -> Result<Option<GatewayUserInfo>, GatewayError>;
    /// `/user/update` with the user's whole desired budget and limits, so that repeating it is harmless.
    /// LiteLLM **creates** a user it does not know (an upsert, without email or alias), so this never
    /// answers `NotFound`; call [`Gateway::ensure_user`] first to create users properly. `Invalid`
    /// without a call for a rate limit out of range.
    async fn update_user(&self, update: &GatewayUserUpdate) -> Result<(), GatewayError>;
    /// One page of LiteLLM's spend log (`/spend/logs/v2`), newest first. `Invalid` without a call for a
    /// page below 1, a page size outside what the adapter allows, or `start` after `end`.
    async fn spend_logs(&self, query: &SpendQuery) -> Result<SpendPage, GatewayError>;

    /// `/user/update` with the user's whole access (role, models — `no-default-models` for none —, and
    /// `model_max_budget`, the per-model spend pools, replaced whole), so that repeating it is harmless.
    /// Like [`Gateway::update_user`], an upsert: call [`Gateway::ensure_user`] first.
    async fn set_user_access(&self, access: &UserAccess) -> Result<(), GatewayError>;
    /// Makes sure the user's team ([`UserAccess::team_id`]) exists with the user as a member and the rate
    /// pools (`model_rpm_limit`/`model_tpm_limit` in its metadata, replaced whole): `/team/new`, or
    /// `/team/update` (plus `/team/member_add` when the user is missing) for a team that exists.
    async fn ensure_team(&self, access: &UserAccess) -> Result<(), GatewayError>;
    /// The LiteLLM users with these ids (`/user/list?user_ids=…`), those LiteLLM knows; at most
    /// [`MAX_USERS_PER_LIST`] ids (`Invalid` without a call above).
    async fn list_users(&self, ids: &[UserId]) -> Result<Vec<GatewayUserState>, GatewayError>;
}

/// Most ids [`Gateway::list_users`] takes in one call (LiteLLM's largest `/user/list` page).
pub const MAX_USERS_PER_LIST: usize = 100;

/// A user keyport asks LiteLLM to have (`/user/new`): LiteLLM's `user_id` is keyport's user id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayUser {
    pub user_id: UserId,
    pub email: Option<String>,
    pub alias: Option<String>,
}

/// A user as LiteLLM reports it (`/user/info`).
#[derive(Debug, Clone, PartialEq)]
pub struct GatewayUserInfo {
    pub user_id: UserId,
    pub email: Option<String>,
    pub alias: Option<String>,
    /// The models the user may call; empty means every model.
    pub models: Vec<String>,
    /// Spend in the current budget window (lifetime without a window), across all the user's keys.
    pub spend: Money,
    pub max_budget: Option<Money>,
    pub budget_duration: Option<String>,
    pub budget_reset_at: Option<DateTime<Utc>>,
    pub tpm_limit: Option<u64>,
    pub rpm_limit: Option<u64>,
    /// The hashes of the user's keys.
    pub key_hashes: Vec<KeyHash>,
}

/// The whole desired budget and limits of a LiteLLM user.
#[derive(Debug, Clone, PartialEq)]
pub struct GatewayUserUpdate {
    pub user_id: UserId,
    /// `None` fields mean unlimited; the adapter encodes that so that LiteLLM honours it.
    pub limits: Limits,
}

/// Which spend-log rows to read (`/spend/logs/v2`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpendQuery {
    /// Only this key's rows.
    pub key_hash: Option<KeyHash>,
    /// Only rows of keys owned by this user.
    pub user_id: Option<UserId>,
    /// Rows that started at or after `start` and at or before `end`. LiteLLM takes both to the second
    /// (the adapter drops fractions) and compares its own timestamps, which have fractions, with them.
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// 1-based.
    pub page: u32,
    pub page_size: u32,
}

/// One LiteLLM spend-log row: one request.
#[derive(Debug, Clone, PartialEq)]
pub struct SpendLogEntry {
    pub request_id: String,
    /// The key that made the request; `None` when LiteLLM's `api_key` is not a key hash (e.g. empty).
    pub key_hash: Option<KeyHash>,
    /// The upstream model (`<provider>/<model>`), when LiteLLM records one.
    pub model: Option<String>,
    /// The public model name (keyport's model id), when LiteLLM records one.
    pub model_group: Option<String>,
    pub spend: Money,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub total_tokens: u64,
    pub started_at: DateTime<Utc>,
}

/// One page of spend-log rows.
#[derive(Debug, Clone, PartialEq)]
pub struct SpendPage {
    pub entries: Vec<SpendLogEntry>,
    /// Rows matching the query, over all pages.
    pub total: u64,
    pub total_pages: u32,
}

/// The whole desired state of a key in LiteLLM.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateKey {
    pub hash: KeyHash,
    /// Never empty: LiteLLM reads `[]` as "every model"; a key without models is revoked instead.
    pub models: Vec<ModelId>,
    /// `None` fields mean unlimited; the adapter encodes that so that LiteLLM honours it.
    pub limits: Limits,
    /// Seconds from now until the key expires; `None` for never.
    pub expires_in_seconds: Option<i64>,
    pub blocked: bool,
    /// The full metadata (LiteLLM replaces it whole).
    pub metadata: serde_json::Value,
    /// The owner's team ([`crate::access::team_id_of`]).
    pub team_id: String,
    /// The only routes the key may call (never empty).
    pub allowed_routes: Vec<String>,
}

/// One page of LiteLLM's keys.
#[derive(Debug, Clone, PartialEq)]
pub struct GatewayKeyPage {
    pub keys: Vec<GatewayKey>,
    pub total_count: u64,
    pub total_pages: u32,
}
