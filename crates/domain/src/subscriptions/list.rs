use crate::ids::SubscriptionId;
use crate::subscriptions::Subscription;
use crate::subscriptions::SubscriptionStore;
use crate::users::Actor;
use crate::Error;
use std::sync::Arc;

/// The caller's subscriptions, newest first.
pub struct ListSubscriptions {
    subscriptions: Arc<dyn SubscriptionStore>,
}

impl ListSubscriptions {
    pub fn new(subscriptions: Arc<dyn SubscriptionStore>) -> Self {
        Self { subscriptions }
    }

    pub async fn execute(&self, actor: &Actor) -> Result<Vec<Subscription>, Error> {
        Ok(self.subscriptions.list_subscriptions(actor.user_id).await?)
    }
}

/// One of the caller's subscriptions; someone else's is "not found", for administrators too (they see
/// everybody's through the `/admin` routes).
pub struct GetSubscription {
    subscriptions: Arc<dyn SubscriptionStore>,
}

impl GetSubscription {
    pub fn new(subscriptions: Arc<dyn SubscriptionStore>) -> Self {
        Self { subscriptions }
    }

    pub async fn execute(&self, actor: &Actor, id: SubscriptionId) -> Result<Subscription, Error> {
        self.subscriptions
            .get_subscription(id)
            .await?
            .filter(|s| s.user_id == actor.user_id)
            .ok_or(Error::NotFound {
                entity: "subscription",
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::*;
    use crate::subscriptions::MockSubscriptionStore;
    use crate::subscriptions::SubscriptionStatus;

    #[tokio::test]
    async fn a_user_sees_their_own_subscription_and_not_someone_elses() {
        let sub = subscription(bob().user_id, "gpt-4o-mini", SubscriptionStatus::Active);
        let id = sub.id;
        let mut store = MockSubscriptionStore::new();
        store
            .expect_get_subscription()
            .returning(move |_| Ok(Some(sub.clone())));
        let uc = GetSubscription::new(Arc::new(store));
        assert_eq!(
            uc.execute(&alice(), id).await.unwrap_err(),
            Error::NotFound {
                entity: "subscription"
            }
        );
        assert_eq!(uc.execute(&bob(), id).await.unwrap().id, id);
        let mut admin = alice();
        admin.roles.push(crate::users::Role::Admin);
        assert_eq!(
            uc.execute(&admin, id).await.unwrap_err(),
            Error::NotFound {
                entity: "subscription"
            },
            "the member routes act for the owner only"
        );
    }
}
