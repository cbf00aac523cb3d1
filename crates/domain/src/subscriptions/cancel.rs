use crate::audit::AuditEvent;
use crate::ids::SubscriptionId;
use crate::keys::ConvergeKey;
use crate::keys::KeyEffects;
use crate::runtime::Clock;
use crate::subscriptions::SubscriptionStore;
use crate::subscriptions::{Subscription, SubscriptionStatus};
use crate::users::Actor;
use crate::{Error, StoreError};
use std::sync::Arc;

/// Cancel one of the caller's subscriptions (active or pending). Its model leaves every key bound to it: a
/// key left with no model is revoked (LiteLLM reads `models: []` as "every model", so it is never sent
/// that), the others are updated in LiteLLM. The cancellation, the revocations and the jobs for LiteLLM
/// commit together; LiteLLM is then updated at once, and the jobs retry whatever did not go through.
pub struct CancelSubscription {
    subscriptions: Arc<dyn SubscriptionStore>,
    converge: Arc<ConvergeKey>,
    clock: Arc<dyn Clock>,
}

impl CancelSubscription {
    pub fn new(
        subscriptions: Arc<dyn SubscriptionStore>,
        converge: Arc<ConvergeKey>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            subscriptions,
            converge,
            clock,
        }
    }

    pub async fn execute(&self, actor: &Actor, id: SubscriptionId) -> Result<Subscription, Error> {
        let subscription = self
            .subscriptions
            .get_subscription(id)
            .await?
            .filter(|s| s.user_id == actor.user_id)
            .ok_or(Error::NotFound {
                entity: "subscription",
            })?;
        if subscription.status == SubscriptionStatus::Cancelled {
            return Ok(subscription);
        }
        if !subscription
            .status
            .can_become(SubscriptionStatus::Cancelled)
        {
            return Err(Error::Conflict {
                field: None,
                message: format!(
                    "a {} subscription cannot be cancelled",
                    subscription.status.as_str()
                ),
            });
        }
        let mut effects = KeyEffects::default();
        for key in self.subscriptions.keys_bound_to(id).await? {
            if key.models.iter().all(|m| *m == subscription.model_id) {
                effects.revoke.push(key.id);
            } else {
                effects.converge.push(key.id);
            }
        }
        let now = self.clock.now();
        let audit = AuditEvent::by(actor, "subscription.cancel", "subscription", id, now)
            .with_before(serde_json::json!({"status": subscription.status.as_str()}))
            .with_after(serde_json::json!({
                "status": "cancelled",
                "keys_revoked": effects.revoke,
                "keys_updated": effects.converge,
            }));
        let cancelled = self
            .subscriptions
            .change_subscription_status_cascading(
                id,
                subscription.status,
                SubscriptionStatus::Cancelled,
                Some("cancelled by the user".into()),
                &effects,
                now,
                &audit,
            )
            .await
            .map_err(|e| match e {
                StoreError::NotFound => Error::Conflict {
                    field: None,
                    message: "the subscription changed meanwhile; reload it and try again".into(),
                },
                other => other.into(),
            })?;
        for key in effects.revoke.iter().chain(&effects.converge) {
            if let Err(error) = self.converge.execute(*key).await {
                tracing::warn!(%key, %error, "LiteLLM not updated yet after a cancellation; the job will retry");
            }
        }
        Ok(cancelled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::*;
    use crate::ids::ModelId;
    use crate::keys::{ApiKey, ApiKeyStatus};
    use crate::subscriptions::MockSubscriptionStore;

    fn bound(models: &[&str]) -> ApiKey {
        let mut key = api_key(alice().user_id, ApiKeyStatus::Active);
        key.models = models.iter().map(|m| ModelId::parse(*m).unwrap()).collect();
        key
    }

    /// Alice cancels subscription `id`.
    async fn alice_cancels(
        store: MockSubscriptionStore,
        id: SubscriptionId,
    ) -> Result<Subscription, Error> {
        CancelSubscription::new(Arc::new(store), converge_offline(), fixed_clock())
            .execute(&alice(), id)
            .await
    }

    #[tokio::test]
    async fn cancelling_revokes_keys_left_without_a_model_and_updates_the_others_in_one_change() {
        let sub = subscription(alice().user_id, "gpt-4o-mini", SubscriptionStatus::Active);
        let id = sub.id;
        let only_this = bound(&["gpt-4o-mini"]);
        let also_other = bound(&["claude", "gpt-4o-mini"]);
        let (revoke, converge) = (only_this.id, also_other.id);
        let mut store = subscription_store_with(sub.clone(), vec![only_this, also_other]);
        store
            .expect_change_subscription_status_cascading()
            .times(1)
            .withf(move |i, from, to, _, effects, _, a| {
                *i == id
                    && *from == SubscriptionStatus::Active
                    && *to == SubscriptionStatus::Cancelled
                    && effects.revoke == vec![revoke]
                    && effects.converge == vec![converge]
                    && a.action == "subscription.cancel"
            })
            .returning(move |_, _, to, _, _, _, _| Ok(with_status(&sub, to)));
        let out = alice_cancels(store, id).await.unwrap();
        assert_eq!(out.status, SubscriptionStatus::Cancelled);
    }

    #[tokio::test]
    async fn someone_elses_subscription_is_not_found() {
        let sub = subscription(bob().user_id, "gpt-4o-mini", SubscriptionStatus::Active);
        let id = sub.id;
        let mut store = subscription_store_with(sub, vec![]);
        store.expect_change_subscription_status_cascading().never();
        let err = alice_cancels(store, id).await.unwrap_err();
        assert_eq!(
            err,
            Error::NotFound {
                entity: "subscription"
            }
        );
    }

    #[tokio::test]
    async fn a_rejected_subscription_cannot_be_cancelled() {
        let sub = subscription(alice().user_id, "gpt-4o-mini", SubscriptionStatus::Rejected);
        let id = sub.id;
        let mut store = subscription_store_with(sub, vec![]);
        store.expect_change_subscription_status_cascading().never();
        let err = alice_cancels(store, id).await.unwrap_err();
        assert!(matches!(err, Error::Conflict { .. }));
    }
}
