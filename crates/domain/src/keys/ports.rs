//! Where keys are kept: the owner's store (which also queues each key's convergence job in the change's
//! transaction) and the administrators' view of everybody's keys.
//!
//! Store contract (every port of this crate): a mutating method commits its change and its audit event(s) in
//! one transaction or not at all; `StoreError::Unavailable` means nothing was committed.

use crate::audit::AuditEvent;
use crate::error::StoreError;
use crate::ids::{ApiKeyId, ModelId, UserId};
use crate::keys::{ApiKey, ApiKeyStatus, KeyUpdate, NewApiKey};
use crate::limits::Money;
use crate::secret::KeyHash;
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// What [`ApiKeyStore::insert_provisioning_key`] learnt on the way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeyInserted {
    /// The owner's subscriptions changed since LiteLLM last got their pools: converge the user first.
    pub owner_access_pending: bool,
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
    /// `provisioning → active`, recording the sync time. `granted` are the models LiteLLM was given for the
    /// key: when the activated key [`ApiKey::must_converge_after_activation`] (the domain's rule), it is
    /// marked pending and its `ConvergeKey` job queued, due at once, in the same transaction. MUST answer
    /// `NotFound` when the key is not `provisioning`, changing nothing.
    async fn activate_key(
        &self,
        id: ApiKeyId,
        at: DateTime<Utc>,
        granted: &[ModelId],
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
