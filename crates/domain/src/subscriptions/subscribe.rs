use crate::audit::AuditEvent;
use crate::catalog::ModelStore;
use crate::ids::{ModelId, SubscriptionId};
use crate::runtime::Clock;
use crate::settings::SettingsSource;
use crate::subscriptions::SubscriptionStore;
use crate::subscriptions::{Subscription, SubscriptionStatus};
use crate::users::Actor;
use crate::{Error, StoreError};
use std::sync::Arc;

/// Subscribe the caller to a model. Open models give an `active` subscription at once; restricted models a
/// `pending` one that an admin approves. A cancelled or rejected subscription is requested again in place
/// (one subscription per user and model), with the model's current default quota — capped by the
/// administrator's maximum for self-service subscriptions when the use case has the settings.
pub struct Subscribe {
    models: Arc<dyn ModelStore>,
    subscriptions: Arc<dyn SubscriptionStore>,
    clock: Arc<dyn Clock>,
    settings: Option<SettingsSource>,
}

impl Subscribe {
    pub fn new(
        models: Arc<dyn ModelStore>,
        subscriptions: Arc<dyn SubscriptionStore>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            models,
            subscriptions,
            clock,
            settings: None,
        }
    }

    /// Caps the quota of new subscriptions with the self-service settings in force.
    pub fn with_settings(mut self, settings: SettingsSource) -> Self {
        self.settings = Some(settings);
        self
    }

    pub async fn execute(&self, actor: &Actor, model_id: &str) -> Result<Subscription, Error> {
        let model_id = ModelId::parse(model_id)?;
        let model = self
            .models
            .get_model(&model_id)
            .await?
            .filter(|m| !m.hidden || actor.is_admin())
            .ok_or_else(|| Error::invalid("model_id", format!("there is no model '{model_id}'")))?;
        if !model.is_offered() && !actor.is_admin() {
            return Err(Error::Conflict {
                field: Some("model_id".into()),
                message: format!("model '{model_id}' is not available at the moment"),
            });
        }
        let status = if model.restricted {
            SubscriptionStatus::Pending
        } else {
            SubscriptionStatus::Active
        };
        let now = self.clock.now();
        let quota = match &self.settings {
            Some(settings) => settings
                .current()
                .await?
                .cap_subscription_quota(&model.default_quota),
            None => model.default_quota.clone(),
        };

        if let Some(existing) = self
            .subscriptions
            .find_subscription(actor.user_id, &model_id)
            .await?
        {
            if !existing.status.can_become(status) {
                return Err(Error::Conflict {
                    field: Some("model_id".into()),
                    message: format!(
                        "you already have a subscription to '{model_id}' ({})",
                        existing.status.as_str()
                    ),
                });
            }
            let audit = AuditEvent::by(
                actor,
                "subscription.request",
                "subscription",
                existing.id,
                now,
            )
            .with_before(serde_json::json!({"status": existing.status.as_str()}))
            .with_after(serde_json::json!({"status": status.as_str()}));
            return self
                .subscriptions
                .change_subscription_status(
                    existing.id,
                    existing.status,
                    status,
                    None,
                    Some(quota),
                    now,
                    &audit,
                )
                .await
                .map_err(|e| match e {
                    StoreError::NotFound => Error::Conflict {
                        field: Some("model_id".into()),
                        message: "the subscription changed meanwhile; try again".into(),
                    },
                    other => other.into(),
                });
        }

        let subscription = Subscription {
            id: SubscriptionId::new(),
            user_id: actor.user_id,
            model_id: model_id.clone(),
            status,
            status_reason: None,
            quota,
            created_at: now,
            updated_at: now,
        };
        let audit = AuditEvent::by(
            actor,
            "subscription.create",
            "subscription",
            subscription.id,
            now,
        )
        .with_after(serde_json::json!({"model_id": model_id.as_str(), "status": status.as_str()}));
        match self
            .subscriptions
            .insert_subscription(&subscription, &audit)
            .await
        {
            Ok(()) => Ok(subscription),
            Err(StoreError::Conflict { .. }) => Err(Error::Conflict {
                field: Some("model_id".into()),
                message: format!("you already have a subscription to '{model_id}'"),
            }),
            Err(other) => Err(other.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::MockModelStore;
    use crate::fixtures::*;
    use crate::subscriptions::MockSubscriptionStore;
    use crate::ConflictKind;

    fn use_case(models: MockModelStore, subs: MockSubscriptionStore) -> Subscribe {
        Subscribe::new(Arc::new(models), Arc::new(subs), fixed_clock())
    }

    /// A catalogue holding the one model `name`, restricted or open, whatever is asked for.
    fn catalog_of(name: &'static str, restricted: bool) -> MockModelStore {
        let mut models = MockModelStore::new();
        models
            .expect_get_model()
            .returning(move |_| Ok(Some(model(name, restricted))));
        models
    }

    /// A store in which Alice holds no subscription to the model yet.
    fn not_yet_subscribed() -> MockSubscriptionStore {
        let mut subs = MockSubscriptionStore::new();
        subs.expect_find_subscription().returning(|_, _| Ok(None));
        subs
    }

    /// Alice subscribes to `model_id`.
    async fn subscribe(
        models: MockModelStore,
        subs: MockSubscriptionStore,
        model_id: &str,
    ) -> Result<Subscription, Error> {
        use_case(models, subs).execute(&alice(), model_id).await
    }

    #[tokio::test]
    async fn an_open_model_gives_an_active_subscription_with_the_model_default_quota() {
        let models = catalog_of("gpt-4o-mini", false);
        let mut subs = not_yet_subscribed();
        subs.expect_insert_subscription()
            .times(1)
            .withf(|s, audit| {
                s.status == SubscriptionStatus::Active
                    && s.quota == model("gpt-4o-mini", false).default_quota
                    && audit.action == "subscription.create"
            })
            .returning(|_, _| Ok(()));
        let sub = subscribe(models, subs, "gpt-4o-mini").await.unwrap();
        assert_eq!(sub.status, SubscriptionStatus::Active);
        assert_eq!(sub.user_id, alice().user_id);
        assert_eq!(sub.model_id.as_str(), "gpt-4o-mini");
    }

    #[tokio::test]
    async fn a_restricted_model_gives_a_pending_subscription() {
        let models = catalog_of("secret-model", true);
        let mut subs = not_yet_subscribed();
        subs.expect_insert_subscription()
            .times(1)
            .withf(|s, _| s.status == SubscriptionStatus::Pending)
            .returning(|_, _| Ok(()));
        let sub = subscribe(models, subs, "secret-model").await.unwrap();
        assert_eq!(sub.status, SubscriptionStatus::Pending);
    }

    #[tokio::test]
    async fn an_unknown_or_hidden_model_is_an_invalid_model_id_and_nothing_is_written() {
        let mut models = MockModelStore::new();
        models.expect_get_model().returning(|id| {
            Ok((id.as_str() == "hidden").then(|| {
                let mut m = model("hidden", false);
                m.hidden = true;
                m
            }))
        });
        let mut subs = MockSubscriptionStore::new();
        subs.expect_insert_subscription().never();
        subs.expect_find_subscription().never();
        let uc = use_case(models, subs);
        for name in ["nope", "hidden"] {
            let err = uc.execute(&alice(), name).await.unwrap_err();
            assert!(
                matches!(&err, Error::Invalid(f) if f[0].field == "model_id"),
                "{err:?}"
            );
        }
    }

    #[tokio::test]
    async fn an_active_subscription_cannot_be_requested_twice() {
        let models = catalog_of("gpt-4o-mini", false);
        let mut subs = MockSubscriptionStore::new();
        subs.expect_find_subscription().returning(|_, _| {
            Ok(Some(subscription(
                alice().user_id,
                "gpt-4o-mini",
                SubscriptionStatus::Active,
            )))
        });
        subs.expect_insert_subscription().never();
        subs.expect_change_subscription_status().never();
        let err = subscribe(models, subs, "gpt-4o-mini").await.unwrap_err();
        assert!(matches!(err, Error::Conflict { field: Some(ref f), .. } if f == "model_id"));
    }

    #[tokio::test]
    async fn a_cancelled_subscription_is_reactivated_in_place() {
        let models = catalog_of("gpt-4o-mini", false);
        let mut subs = MockSubscriptionStore::new();
        let old = subscription(
            alice().user_id,
            "gpt-4o-mini",
            SubscriptionStatus::Cancelled,
        );
        let old_id = old.id;
        subs.expect_find_subscription()
            .returning(move |_, _| Ok(Some(old.clone())));
        subs.expect_insert_subscription().never();
        subs.expect_change_subscription_status()
            .times(1)
            .withf(move |id, from, to, _, quota, _, _| {
                *id == old_id
                    && *from == SubscriptionStatus::Cancelled
                    && *to == SubscriptionStatus::Active
                    && quota.is_some()
            })
            .returning(|id, _, to, _, _, _, _| {
                let mut s = subscription(alice().user_id, "gpt-4o-mini", to);
                s.id = id;
                Ok(s)
            });
        let sub = subscribe(models, subs, "gpt-4o-mini").await.unwrap();
        assert_eq!(sub.id, old_id);
        assert_eq!(sub.status, SubscriptionStatus::Active);
    }

    #[tokio::test]
    async fn a_concurrent_duplicate_insert_is_a_conflict() {
        let models = catalog_of("gpt-4o-mini", false);
        let mut subs = not_yet_subscribed();
        subs.expect_insert_subscription()
            .returning(|_, _| Err(StoreError::Conflict(ConflictKind::AlreadySubscribed)));
        let err = subscribe(models, subs, "gpt-4o-mini").await.unwrap_err();
        assert!(matches!(err, Error::Conflict { .. }));
    }

    #[tokio::test]
    async fn the_quota_is_the_model_default_capped_by_the_settings() {
        use crate::settings::{MockSettingsStore, SelfServiceSettings, SettingsSource};
        let models = catalog_of("gpt-4o-mini", false);
        let mut subs = not_yet_subscribed();
        subs.expect_insert_subscription()
            .times(1)
            .withf(|s, _| s.quota.rpm_limit == Some(7) && s.quota.max_budget == Some(money("10")))
            .returning(|_, _| Ok(()));
        let mut settings = MockSettingsStore::new();
        settings.expect_get_settings().returning(|| {
            Ok(Some(SelfServiceSettings {
                subscription_max_quota: crate::limits::Limits {
                    rpm_limit: Some(7),
                    ..crate::limits::Limits::default()
                },
                ..SelfServiceSettings::default()
            }))
        });
        let sub = use_case(models, subs)
            .with_settings(SettingsSource::new(
                Arc::new(settings),
                SelfServiceSettings::default(),
            ))
            .execute(&alice(), "gpt-4o-mini")
            .await
            .unwrap();
        assert_eq!(
            sub.quota.rpm_limit,
            Some(7),
            "the default 60 is above the cap"
        );
    }
}
