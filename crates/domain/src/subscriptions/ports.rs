//! Where subscriptions are kept: the owner's store, and the administrators' view with status histories
//! and approvals.
//!
//! Store contract (every port of this crate): a mutating method commits its change and its audit event(s) in
//! one transaction or not at all; `StoreError::Unavailable` means nothing was committed.
//! A subscription change also queues the owner's `ConvergeUser` job in the same transaction (see
//! [`crate::access::AccessStore`]).

use crate::audit::AuditEvent;
use crate::catalog::ModelChanges;
use crate::catalog::ModelUpdated;
use crate::catalog::ReleasePending;
use crate::error::StoreError;
use crate::ids::{ModelId, SubscriptionId, UserId};
use crate::keys::ApiKey;
use crate::keys::KeyEffects;
use crate::limits::Limits;
use crate::subscriptions::{Subscription, SubscriptionStatus};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

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
