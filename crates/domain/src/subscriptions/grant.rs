use crate::audit::AuditEvent;
use crate::catalog::ModelStore;
use crate::ids::{ModelId, SubscriptionId, UserId};
use crate::limits::Limits;
use crate::runtime::Clock;
use crate::settings::SettingsSource;
use crate::subscriptions::SubscriptionStore;
use crate::subscriptions::{Subscription, SubscriptionStatus};
use crate::users::Actor;
use crate::users::UserStore;
use crate::{Error, StoreError};
use std::sync::Arc;

/// What an administrator grants.
#[derive(Debug, Clone)]
pub struct GrantSubscriptionRequest {
    pub user_id: UserId,
    pub model_id: String,
    /// The quota; absent: the model's default, capped like a self-service subscription's.
    pub quota: Option<Limits>,
}

/// An administrator subscribes a user to a model: `active` at once, also for a restricted model (a pending,
/// cancelled or rejected subscription of that user and model becomes active in place, with its history). A
/// quota given must be within the maximum for subscriptions. Administrators only.
pub struct GrantSubscription {
    users: Arc<dyn UserStore>,
    models: Arc<dyn ModelStore>,
    subscriptions: Arc<dyn SubscriptionStore>,
    settings: SettingsSource,
    clock: Arc<dyn Clock>,
}

impl GrantSubscription {
    pub fn new(
        users: Arc<dyn UserStore>,
        models: Arc<dyn ModelStore>,
        subscriptions: Arc<dyn SubscriptionStore>,
        settings: SettingsSource,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            users,
            models,
            subscriptions,
            settings,
            clock,
        }
    }

    pub async fn execute(
        &self,
        actor: &Actor,
        request: GrantSubscriptionRequest,
    ) -> Result<Subscription, Error> {
        actor.require_admin("grant subscriptions")?;
        let mut errors = Vec::new();
        let model_id = ModelId::parse(request.model_id)
            .map_err(|e| errors.push(e))
            .ok();
        if let Some(quota) = &request.quota {
            if let Err(e) = quota.validate() {
                errors.extend(e.into_iter().map(|e| e.nested("quota")));
            }
        }
        let user = self.users.get_user(request.user_id).await?;
        if user.is_none() {
            errors.push(crate::FieldError::new(
                "user_id",
                format!("there is no user {}", request.user_id),
            ));
        }
        let model = match &model_id {
            Some(id) => {
                let model = self.models.get_model(id).await?;
                if model.is_none() {
                    errors.push(crate::FieldError::new(
                        "model_id",
                        format!("there is no model '{id}'"),
                    ));
                }
                model
            }
            None => None,
        };
        let (Some(model), true) = (model, errors.is_empty()) else {
            return Err(Error::Invalid(errors));
        };
        let settings = self.settings.current().await?;
        let quota = match request.quota {
            Some(quota) => {
                let over: Vec<_> = quota
                    .exceeding(
                        &settings.subscription_max_quota,
                        "the maximum for subscriptions",
                    )
                    .into_iter()
                    .map(|e| e.nested("quota"))
                    .collect();
                if !over.is_empty() {
                    return Err(Error::Invalid(over));
                }
                quota
            }
            None => settings.cap_subscription_quota(&model.default_quota),
        };
        let now = self.clock.now();
        let user_id = request.user_id;
        let model_id = model.id;
        let after = serde_json::json!({
            "status": SubscriptionStatus::Active.as_str(),
            "user_id": user_id,
            "model_id": model_id.as_str(),
            "quota": quota,
        });

        if let Some(existing) = self
            .subscriptions
            .find_subscription(user_id, &model_id)
            .await?
        {
            if matches!(
                existing.status,
                SubscriptionStatus::Active | SubscriptionStatus::Suspended
            ) {
                return Err(Error::Conflict {
                    field: Some("model_id".into()),
                    message: format!(
                        "the user already has a subscription to '{model_id}' ({})",
                        existing.status.as_str()
                    ),
                });
            }
            let audit = AuditEvent::by(
                actor,
                "subscription.grant",
                "subscription",
                existing.id,
                now,
            )
            .with_before(serde_json::json!({
                "status": existing.status.as_str(),
                "quota": existing.quota,
            }))
            .with_after(after);
            return self
                .subscriptions
                .change_subscription_status(
                    existing.id,
                    existing.status,
                    SubscriptionStatus::Active,
                    Some("granted by an administrator".into()),
                    Some(quota),
                    now,
                    &audit,
                )
                .await
                .map_err(|e| match e {
                    StoreError::NotFound => changed_meanwhile(),
                    other => other.into(),
                });
        }

        let subscription = Subscription {
            id: SubscriptionId::new(),
            user_id,
            model_id,
            status: SubscriptionStatus::Active,
            status_reason: Some("granted by an administrator".into()),
            quota,
            created_at: now,
            updated_at: now,
        };
        let audit = AuditEvent::by(
            actor,
            "subscription.grant",
            "subscription",
            subscription.id,
            now,
        )
        .with_after(after);
        match self
            .subscriptions
            .insert_subscription(&subscription, &audit)
            .await
        {
            Ok(()) => Ok(subscription),
            Err(StoreError::Conflict { .. }) => Err(changed_meanwhile()),
            Err(other) => Err(other.into()),
        }
    }
}

fn changed_meanwhile() -> Error {
    Error::Conflict {
        field: Some("model_id".into()),
        message: "the user's subscription to this model changed meanwhile; try again".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::MockModelStore;
    use crate::fixtures::*;
    use crate::settings::{MockSettingsStore, SelfServiceSettings};
    use crate::subscriptions::MockSubscriptionStore;
    use crate::users::MockUserStore;
    use crate::users::{Role, User, UserStatus};

    fn users() -> MockUserStore {
        let mut users = MockUserStore::new();
        users.expect_get_user().returning(|id| {
            Ok((id == bob().user_id).then(|| User {
                id,
                username: "bob".into(),
                email: None,
                display_name: None,
                roles: vec![Role::User],
                status: UserStatus::Active,
                created_at: now(),
            }))
        });
        users
    }

    fn models() -> MockModelStore {
        let mut models = MockModelStore::new();
        models.expect_get_model().returning(|id| {
            Ok((id.as_str() == "secret-model").then(|| model("secret-model", true)))
        });
        models
    }

    /// Subscriptions are capped at a budget of 20 every 30 days.
    fn settings() -> SettingsSource {
        let mut store = MockSettingsStore::new();
        store.expect_get_settings().returning(|| {
            Ok(Some(SelfServiceSettings {
                subscription_max_quota: Limits {
                    max_budget: Some(money("20")),
                    budget_duration: Some(crate::limits::BudgetDuration::parse("30d").unwrap()),
                    ..Limits::default()
                },
                ..SelfServiceSettings::default()
            }))
        });
        SettingsSource::new(Arc::new(store), SelfServiceSettings::default())
    }

    fn grant(subs: MockSubscriptionStore) -> GrantSubscription {
        GrantSubscription::new(
            Arc::new(users()),
            Arc::new(models()),
            Arc::new(subs),
            settings(),
            fixed_clock(),
        )
    }

    fn request(quota: Option<Limits>) -> GrantSubscriptionRequest {
        GrantSubscriptionRequest {
            user_id: bob().user_id,
            model_id: "secret-model".into(),
            quota,
        }
    }

    #[tokio::test]
    async fn a_grant_is_active_at_once_even_for_a_restricted_model() {
        let mut subs = MockSubscriptionStore::new();
        subs.expect_find_subscription().returning(|_, _| Ok(None));
        subs.expect_insert_subscription()
            .times(1)
            .withf(|s, audit| {
                s.status == SubscriptionStatus::Active
                    && s.user_id == bob().user_id
                    && s.quota == quota(10)
                    && audit.action == "subscription.grant"
                    && audit.actor == Some(alice().user_id)
            })
            .returning(|_, _| Ok(()));
        let sub = grant(subs).execute(&admin(), request(None)).await.unwrap();
        assert_eq!(sub.status, SubscriptionStatus::Active);
    }

    #[tokio::test]
    async fn a_pending_request_is_granted_in_place_with_the_given_quota() {
        let mut subs = MockSubscriptionStore::new();
        let pending = subscription(bob().user_id, "secret-model", SubscriptionStatus::Pending);
        let id = pending.id;
        subs.expect_find_subscription()
            .returning(move |_, _| Ok(Some(pending.clone())));
        subs.expect_change_subscription_status()
            .times(1)
            .withf(move |sid, from, to, _, quota, _, _| {
                *sid == id
                    && *from == SubscriptionStatus::Pending
                    && *to == SubscriptionStatus::Active
                    && quota.as_ref().and_then(|q| q.max_budget) == Some(money("15"))
            })
            .returning(|id, _, to, _, quota, _, _| {
                let mut s = subscription(bob().user_id, "secret-model", to);
                s.id = id;
                s.quota = quota.unwrap();
                Ok(s)
            });
        let sub = grant(subs)
            .execute(
                &admin(),
                request(Some(Limits {
                    max_budget: Some(money("15")),
                    ..Limits::default()
                })),
            )
            .await
            .unwrap();
        assert_eq!((sub.id, sub.status), (id, SubscriptionStatus::Active));
    }

    #[tokio::test]
    async fn a_quota_above_the_maximum_or_an_unknown_user_or_model_is_refused_naming_the_field() {
        let mut subs = MockSubscriptionStore::new();
        subs.expect_insert_subscription().never();
        subs.expect_find_subscription().never();
        let uc = grant(subs);
        let err = uc
            .execute(
                &admin(),
                request(Some(Limits {
                    max_budget: Some(money("21")),
                    ..Limits::default()
                })),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::Invalid(e) if e[0].field == "quota.max_budget"),
            "{err:?}"
        );
        let err = uc
            .execute(
                &admin(),
                GrantSubscriptionRequest {
                    user_id: UserId::new(),
                    model_id: "nope".into(),
                    quota: None,
                },
            )
            .await
            .unwrap_err();
        let Error::Invalid(errors) = err else {
            panic!("{err:?}")
        };
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["user_id", "model_id"]);
        assert!(matches!(
            uc.execute(&bob(), request(None)).await.unwrap_err(),
            Error::Forbidden(_)
        ));
    }

    #[tokio::test]
    async fn an_active_subscription_cannot_be_granted_again() {
        let mut subs = MockSubscriptionStore::new();
        subs.expect_find_subscription().returning(|_, _| {
            Ok(Some(subscription(
                bob().user_id,
                "secret-model",
                SubscriptionStatus::Active,
            )))
        });
        subs.expect_change_subscription_status().never();
        let err = grant(subs)
            .execute(&admin(), request(None))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Conflict { field: Some(ref f), .. } if f == "model_id"));
    }
}
