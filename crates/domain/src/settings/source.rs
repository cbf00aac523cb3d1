//! Where the use cases read the settings in force from: the stored settings (through a [`SettingsStore`])
//! with the server's flags as their initial values, or fixed settings for tests and tools.

use crate::audit::AuditEvent;
use crate::error::StoreError;
use crate::settings::{SelfServiceSettings, SettingsStore};
use crate::Error;
use chrono::{DateTime, Duration, Utc};
use std::sync::Arc;

/// The settings in force, the one source every use case reads the self-service policy from: the stored
/// ones, or the initial ones (from the server's configuration) until an administrator saves some; or fixed
/// settings without a store (tests, tools). It also carries the longest overlap a rotation may ask for: the
/// server's configuration, never a stored setting (zero unless set).
#[derive(Clone)]
pub struct SettingsSource {
    /// `None`: fixed settings, never stored.
    store: Option<Arc<dyn SettingsStore>>,
    initial: SelfServiceSettings,
    max_rotation_overlap: Duration,
}

impl SettingsSource {
    /// The settings `store` holds, or `initial` until an administrator saves some.
    pub fn new(store: Arc<dyn SettingsStore>, initial: SelfServiceSettings) -> Self {
        Self {
            store: Some(store),
            initial,
            max_rotation_overlap: Duration::zero(),
        }
    }

    /// Always `settings`, read from no store (tests, tools); they cannot be saved.
    pub fn fixed(settings: SelfServiceSettings) -> Self {
        Self {
            store: None,
            initial: settings,
            max_rotation_overlap: Duration::zero(),
        }
    }

    /// With the server's longest rotation overlap.
    #[must_use]
    pub fn with_max_rotation_overlap(mut self, max_rotation_overlap: Duration) -> Self {
        self.max_rotation_overlap = max_rotation_overlap;
        self
    }

    /// The longest overlap a rotation may ask for (the server's configuration, never a stored setting).
    pub fn max_rotation_overlap(&self) -> Duration {
        self.max_rotation_overlap
    }

    /// The settings in force now.
    pub async fn current(&self) -> Result<SelfServiceSettings, StoreError> {
        Ok(self.current_with_origin().await?.0)
    }

    /// The settings in force, and whether they are stored (`false`: the initial or fixed ones).
    pub async fn current_with_origin(&self) -> Result<(SelfServiceSettings, bool), StoreError> {
        let stored = match &self.store {
            Some(store) => store.get_settings().await?,
            None => None,
        };
        Ok(match stored {
            Some(stored) => (stored, true),
            None => (self.initial.clone(), false),
        })
    }

    /// Stores `settings` (see [`SettingsStore::put_settings`]); fixed settings cannot be saved.
    pub async fn save(
        &self,
        settings: &SelfServiceSettings,
        at: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<SelfServiceSettings, Error> {
        let Some(store) = &self.store else {
            return Err(Error::Internal(
                "these self-service settings are fixed and cannot be saved".into(),
            ));
        };
        Ok(store.put_settings(settings, at, audit).await?)
    }
}

impl std::fmt::Debug for SettingsSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SettingsSource")
            .field("stored", &self.store.is_some())
            .field("initial", &self.initial)
            .field("max_rotation_overlap", &self.max_rotation_overlap)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn fixed_settings_are_in_force_unstored_and_cannot_be_saved() {
        let settings = SelfServiceSettings {
            max_live_keys_per_user: 3,
            ..SelfServiceSettings::default()
        };
        let source = SettingsSource::fixed(settings.clone());
        assert_eq!(source.max_rotation_overlap(), Duration::zero());
        assert_eq!(
            source.current_with_origin().await.unwrap(),
            (settings.clone(), false)
        );
        let source = source.with_max_rotation_overlap(Duration::hours(6));
        assert_eq!(source.max_rotation_overlap(), Duration::hours(6));
        assert_eq!(source.current().await.unwrap(), settings);
        let audit = AuditEvent::system(
            "settings.update",
            "settings",
            "self-service",
            chrono::Utc::now(),
        );
        assert!(matches!(
            source.save(&settings, chrono::Utc::now(), &audit).await,
            Err(Error::Internal(_))
        ));
    }
}
