use crate::audit::AuditEvent;
use crate::ids::SubscriptionId;
use crate::ports::{Clock, SubscriptionStore};
use crate::subscription::{Subscription, SubscriptionStatus};
use crate::user::Actor;
use crate::{Error, StoreError};
use std::sync::Arc;

/// Cancel one of the caller's subscriptions (active or pending).
///
/// A key's models must always be within its active subscriptions, so a subscription that still backs
/// live keys cannot be cancelled until those keys are revoked. (Removing the model from the bound keys
/// automatically needs durable LiteLLM updates, which the job queue brings.)
pub struct CancelSubscription {
    subscriptions: Arc<dyn SubscriptionStore>,
    clock: Arc<dyn Clock>,
}

impl CancelSubscription {
    pub fn new(subscriptions: Arc<dyn SubscriptionStore>, clock: Arc<dyn Clock>) -> Self {
        Self {
            subscriptions,
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
        let live = self.subscriptions.count_live_keys(id).await?;
        if live > 0 {
            return Err(Error::Conflict {
                field: None,
                message: format!(
                    "{live} live key(s) use this subscription; revoke them first, then cancel"
                ),
            });
        }
        let now = self.clock.now();
        let audit = AuditEvent::by(actor, "subscription.cancel", "subscription", id, now)
            .with_before(serde_json::json!({"status": subscription.status.as_str()}))
            .with_after(serde_json::json!({"status": "cancelled"}));
        self.subscriptions
            .change_subscription_status(
                id,
                subscription.status,
                SubscriptionStatus::Cancelled,
                Some("cancelled by the user".into()),
                None,
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
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::MockSubscriptionStore;
    use crate::usecases::fixtures::*;

    fn store_with(sub: Subscription, live_keys: u64) -> MockSubscriptionStore {
        let mut store = MockSubscriptionStore::new();
        store
            .expect_get_subscription()
            .returning(move |_| Ok(Some(sub.clone())));
        store
            .expect_count_live_keys()
            .returning(move |_| Ok(live_keys));
        store
    }

    #[tokio::test]
    async fn cancelling_an_unused_subscription_moves_it_to_cancelled() {
        let sub = subscription(alice().user_id, "gpt-4o-mini", SubscriptionStatus::Active);
        let id = sub.id;
        let mut store = store_with(sub.clone(), 0);
        store
            .expect_change_subscription_status()
            .times(1)
            .withf(move |i, from, to, _, quota, _, a| {
                *i == id
                    && *from == SubscriptionStatus::Active
                    && *to == SubscriptionStatus::Cancelled
                    && quota.is_none()
                    && a.action == "subscription.cancel"
            })
            .returning(move |_, _, to, _, _, _, _| {
                let mut s = sub.clone();
                s.status = to;
                Ok(s)
            });
        let out = CancelSubscription::new(Arc::new(store), fixed_clock())
            .execute(&alice(), id)
            .await
            .unwrap();
        assert_eq!(out.status, SubscriptionStatus::Cancelled);
    }

    #[tokio::test]
    async fn a_subscription_backing_live_keys_is_not_cancelled() {
        let sub = subscription(alice().user_id, "gpt-4o-mini", SubscriptionStatus::Active);
        let id = sub.id;
        let mut store = store_with(sub, 2);
        store.expect_change_subscription_status().never();
        let err = CancelSubscription::new(Arc::new(store), fixed_clock())
            .execute(&alice(), id)
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::Conflict { ref message, .. } if message.contains("2 live key")),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn someone_elses_subscription_is_not_found() {
        let sub = subscription(bob().user_id, "gpt-4o-mini", SubscriptionStatus::Active);
        let id = sub.id;
        let mut store = store_with(sub, 0);
        store.expect_change_subscription_status().never();
        let err = CancelSubscription::new(Arc::new(store), fixed_clock())
            .execute(&alice(), id)
            .await
            .unwrap_err();
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
        let mut store = store_with(sub, 0);
        store.expect_change_subscription_status().never();
        let err = CancelSubscription::new(Arc::new(store), fixed_clock())
            .execute(&alice(), id)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Conflict { .. }));
    }
}
