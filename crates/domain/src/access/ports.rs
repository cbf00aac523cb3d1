//! Each user's LiteLLM access as keyport records it, and the version of it LiteLLM holds.
//!
//! Store contract (every port of this crate): a mutating method commits its change and its audit event(s) in
//! one transaction or not at all; `StoreError::Unavailable` means nothing was committed.

use crate::access::UserAccess;
use crate::error::StoreError;
use crate::ids::UserId;
use crate::subscriptions::Subscription;
use crate::users::User;
use async_trait::async_trait;
use chrono::{DateTime, Utc};

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
