//! Audit events that belong to no other store's change.
//!
//! Store contract (every port of this crate): a mutating method commits its change and its audit event(s) in
//! one transaction or not at all; `StoreError::Unavailable` means nothing was committed.

use crate::audit::AuditEvent;
use crate::error::StoreError;
use async_trait::async_trait;

/// Audit events that belong to no other store's change (e.g. the reconciler deleting a LiteLLM key that no
/// row knows).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait AuditLog: Send + Sync {
    async fn append(&self, event: &AuditEvent) -> Result<(), StoreError>;
}
