use crate::ids::{ModelId, SubscriptionId, UserId};
use crate::paging::{decode_id_cursor, parse_opt};
use crate::paging::{page_size, paginate, Page};
use crate::subscriptions::SubscriptionStatus;
use crate::subscriptions::{
    ApprovalStore, OwnedSubscription, StatusHistoryEntry, SubscriptionQuery,
};
use crate::users::Actor;
use crate::Error;
use std::sync::Arc;

/// Filters for everybody's subscriptions.
#[derive(Debug, Clone, Default)]
pub struct ListAllSubscriptionsRequest {
    pub status: Option<String>,
    pub user_id: Option<UserId>,
    pub model_id: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

/// Everybody's subscriptions, newest first, with their owner's username (e.g. the pending ones waiting for
/// approval). Administrators and auditors only.
pub struct ListAllSubscriptions {
    subscriptions: Arc<dyn ApprovalStore>,
}

impl ListAllSubscriptions {
    pub fn new(subscriptions: Arc<dyn ApprovalStore>) -> Self {
        Self { subscriptions }
    }

    pub async fn execute(
        &self,
        actor: &Actor,
        request: ListAllSubscriptionsRequest,
    ) -> Result<Page<OwnedSubscription>, Error> {
        actor.require_oversight("everybody's subscriptions")?;
        let mut errors = Vec::new();
        let status = parse_opt(
            request.status,
            "status",
            SubscriptionStatus::parse,
            "pending, active, cancelled, suspended, rejected",
            &mut errors,
        );
        let model_id = request
            .model_id
            .map(ModelId::parse)
            .transpose()
            .map_err(|e| errors.push(e))
            .ok()
            .flatten();
        let after = decode_id_cursor(request.cursor, &mut errors).map(SubscriptionId);
        let limit = page_size(request.limit)
            .map_err(|e| errors.push(e))
            .unwrap_or_default();
        if !errors.is_empty() {
            return Err(Error::Invalid(errors));
        }
        let subscriptions = self
            .subscriptions
            .list_all_subscriptions(&SubscriptionQuery {
                status,
                user_id: request.user_id,
                model_id,
                after,
                limit: limit + 1,
            })
            .await?;
        Ok(paginate(subscriptions, limit, |s| {
            s.subscription.id.to_string()
        }))
    }
}

/// A subscription's status history (who moved it from which status to which, when and why), oldest first.
/// Administrators and auditors only.
pub struct SubscriptionHistory {
    subscriptions: Arc<dyn ApprovalStore>,
}

impl SubscriptionHistory {
    pub fn new(subscriptions: Arc<dyn ApprovalStore>) -> Self {
        Self { subscriptions }
    }

    pub async fn execute(
        &self,
        actor: &Actor,
        id: SubscriptionId,
    ) -> Result<Vec<StatusHistoryEntry>, Error> {
        actor.require_oversight("subscription histories")?;
        self.subscriptions
            .subscription_history(id)
            .await?
            .ok_or(Error::NotFound {
                entity: "subscription",
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::*;
    use crate::subscriptions::MockApprovalStore;
    use crate::users::Role;

    fn auditor() -> Actor {
        let mut actor = alice();
        actor.roles.push(Role::Auditor);
        actor
    }

    #[tokio::test]
    async fn pending_subscriptions_of_a_model_are_listed_for_an_auditor() {
        let mut store = MockApprovalStore::new();
        store
            .expect_list_all_subscriptions()
            .times(1)
            .withf(|q| {
                q.status == Some(SubscriptionStatus::Pending)
                    && q.model_id.as_ref().map(ModelId::as_str) == Some("secret-model")
                    && q.limit == crate::paging::DEFAULT_PAGE_SIZE + 1
            })
            .returning(|_| {
                Ok(vec![OwnedSubscription {
                    subscription: subscription(
                        bob().user_id,
                        "secret-model",
                        SubscriptionStatus::Pending,
                    ),
                    owner: "bob".into(),
                }])
            });
        let page = ListAllSubscriptions::new(Arc::new(store))
            .execute(
                &auditor(),
                ListAllSubscriptionsRequest {
                    status: Some("pending".into()),
                    model_id: Some("secret-model".into()),
                    ..ListAllSubscriptionsRequest::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(page.items.len(), 1);
        assert_eq!(page.next_cursor, None);
    }

    #[tokio::test]
    async fn a_plain_user_sees_no_history_and_an_unknown_subscription_has_none() {
        let mut store = MockApprovalStore::new();
        store.expect_subscription_history().returning(|_| Ok(None));
        let uc = SubscriptionHistory::new(Arc::new(store));
        assert!(matches!(
            uc.execute(&bob(), SubscriptionId::new()).await.unwrap_err(),
            Error::Forbidden(_)
        ));
        assert_eq!(
            uc.execute(&auditor(), SubscriptionId::new())
                .await
                .unwrap_err(),
            Error::NotFound {
                entity: "subscription"
            }
        );
    }
}
