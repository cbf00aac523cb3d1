//! Where the self-service settings are kept.
//!
//! Store contract (every port of this crate): a mutating method commits its change and its audit event(s) in
//! one transaction or not at all; `StoreError::Unavailable` means nothing was committed.

use crate::audit::AuditEvent;
use crate::error::StoreError;
use crate::settings::SelfServiceSettings;
use async_trait::async_trait;
use chrono::{DateTime, Utc};

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
