//! What the server provides to every use case: the time, secure random bytes, and one leader among
//! replicas for work that must not run twice at once.

use crate::error::StoreError;
use crate::secret::RANDOM_BYTES;
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
