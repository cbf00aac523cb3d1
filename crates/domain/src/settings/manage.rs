use crate::audit::AuditEvent;
use crate::runtime::Clock;
use crate::settings::{SelfServiceSettings, SettingsSource};
use crate::users::Actor;
use crate::Error;
use std::sync::Arc;

/// The self-service settings in force. Everyone signed in may read them (the forms prefill and cap their
/// fields with them); administrators and auditors also learn whether they are stored or still the initial
/// ones from the server's configuration.
pub struct ReadSettings {
    settings: SettingsSource,
}

impl ReadSettings {
    pub fn new(settings: SettingsSource) -> Self {
        Self { settings }
    }

    /// For any signed-in user.
    pub async fn self_service(&self, _actor: &Actor) -> Result<SelfServiceSettings, Error> {
        Ok(self.settings.current().await?)
    }

    /// For administrators and auditors: the settings, and whether an administrator saved them (`false`:
    /// the server's configuration).
    pub async fn execute(&self, actor: &Actor) -> Result<(SelfServiceSettings, bool), Error> {
        actor.require_oversight("the settings")?;
        Ok(self.settings.current_with_origin().await?)
    }
}

/// Replace the self-service settings. They apply at once to new subscriptions and to keys created, changed
/// or rotated from now on (existing keys keep their limits). Administrators only.
pub struct SaveSettings {
    settings: SettingsSource,
    clock: Arc<dyn Clock>,
}

impl SaveSettings {
    pub fn new(settings: SettingsSource, clock: Arc<dyn Clock>) -> Self {
        Self { settings, clock }
    }

    pub async fn execute(
        &self,
        actor: &Actor,
        settings: SelfServiceSettings,
    ) -> Result<SelfServiceSettings, Error> {
        actor.require_admin("change the settings")?;
        settings.validate().map_err(Error::Invalid)?;
        let now = self.clock.now();
        let before = self.settings.current().await?;
        let audit = AuditEvent::by(actor, "settings.update", "settings", "self-service", now)
            .with_before(serde_json::to_value(&before).unwrap_or_default())
            .with_after(serde_json::to_value(&settings).unwrap_or_default());
        self.settings.save(&settings, now, &audit).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::*;
    use crate::limits::Limits;
    use crate::settings::MockSettingsStore;
    use crate::users::Role;

    fn initial() -> SelfServiceSettings {
        SelfServiceSettings {
            key_max_lifetime_days: Some(90),
            ..SelfServiceSettings::default()
        }
    }

    #[tokio::test]
    async fn until_saved_the_initial_settings_are_in_force_and_everyone_may_read_them() {
        let mut store = MockSettingsStore::new();
        store.expect_get_settings().returning(|| Ok(None));
        let read = ReadSettings::new(SettingsSource::new(Arc::new(store), initial()));
        assert_eq!(read.self_service(&bob()).await.unwrap(), initial());
        assert_eq!(read.execute(&admin()).await.unwrap(), (initial(), false));
        assert!(matches!(
            read.execute(&bob()).await.unwrap_err(),
            Error::Forbidden(_)
        ));
    }

    #[tokio::test]
    async fn saving_validates_and_audits_before_and_after() {
        let saved = SelfServiceSettings {
            key_max_limits: Limits {
                rpm_limit: Some(100),
                ..Limits::default()
            },
            key_default_lifetime_days: Some(30),
            key_max_lifetime_days: Some(90),
            ..SelfServiceSettings::default()
        };
        let expected = saved.clone();
        let mut store = MockSettingsStore::new();
        store.expect_get_settings().returning(|| Ok(None));
        store
            .expect_put_settings()
            .times(1)
            .withf(move |s, _, audit| {
                *s == expected
                    && audit.action == "settings.update"
                    && audit.before.as_ref().unwrap()["key_max_lifetime_days"] == 90
                    && audit.after.as_ref().unwrap()["key_max_limits"]["rpm_limit"] == 100
            })
            .returning(|s, _, _| Ok(s.clone()));
        let uc = SaveSettings::new(
            SettingsSource::new(Arc::new(store), initial()),
            fixed_clock(),
        );
        assert_eq!(uc.execute(&admin(), saved.clone()).await.unwrap(), saved);
        let bad = SelfServiceSettings {
            key_default_lifetime_days: Some(100),
            key_max_lifetime_days: Some(90),
            ..SelfServiceSettings::default()
        };
        assert!(matches!(
            uc.execute(&admin(), bad).await.unwrap_err(),
            Error::Invalid(e) if e[0].field == "key_default_lifetime_days"
        ));
        let mut auditor = bob();
        auditor.roles.push(Role::Auditor);
        assert!(matches!(
            uc.execute(&auditor, saved).await.unwrap_err(),
            Error::Forbidden(_)
        ));
    }
}
