//! Personal access tokens for the REST API, as stored (hash only), and their store.
//!
//! Store contract (every port of this crate): a mutating method commits its change and its audit event(s) in
//! one transaction or not at all; `StoreError::Unavailable` means nothing was committed.

use crate::audit::AuditEvent;
use crate::error::StoreError;
use crate::ids::{AccessTokenId, UserId};
use crate::secret::{KeyHash, KeyPrefix};
use crate::users::User;
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// The longest a token may live, in days.
pub const MAX_TOKEN_DAYS: u32 = 366;

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
