//! Where users are kept: the per-user store the hot paths use, and the administrators' directory.
//!
//! Store contract (every port of this crate): a mutating method commits its change and its audit event(s) in
//! one transaction or not at all; `StoreError::Unavailable` means nothing was committed.

use crate::audit::AuditEvent;
use crate::error::StoreError;
use crate::identity::AccessToken;
use crate::ids::UserId;
use crate::users::{Role, User, UserStatus};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

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
    /// Replaces a user's roles (stored normalised: see [`crate::users::normalize_roles`]). MUST answer
    /// `NotFound` for an unknown user.
    async fn set_user_roles(
        &self,
        id: UserId,
        roles: &[Role],
        at: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<User, StoreError>;
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
    /// Suspends a user like [`crate::users::UserStore::change_user_status`] (a `ConvergeKey` job for each
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
