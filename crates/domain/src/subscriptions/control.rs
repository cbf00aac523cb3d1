use crate::access::ConvergeUser;
use crate::audit::AuditEvent;
use crate::audit::MAX_REASON_LEN;
use crate::ids::SubscriptionId;
use crate::keys::ConvergeKey;
use crate::keys::KeyEffects;
use crate::limits::Limits;
use crate::runtime::Clock;
use crate::subscriptions::SubscriptionStore;
use crate::subscriptions::{Subscription, SubscriptionStatus};
use crate::users::Actor;
use crate::{Error, FieldError, StoreError};
use std::sync::Arc;

/// What an administrator does to a subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubscriptionAction {
    /// `active → suspended`: the model leaves the user's keys and pool until reactivated; a key serving
    /// only suspended subscriptions is blocked, not revoked.
    Suspend { reason: String },
    /// `suspended → active`: the model returns to the keys bound to it and to the pool.
    Reactivate,
    /// `pending | active | suspended → cancelled`: like a user's cancellation, done by an administrator
    /// even while keys are bound (a key left without a subscription is revoked).
    Revoke { reason: String },
    /// A new quota for an `active` or `suspended` subscription; LiteLLM's pools follow.
    ChangeQuota(Limits),
}

impl SubscriptionAction {
    fn name(&self) -> &'static str {
        match self {
            Self::Suspend { .. } => "subscription.suspend",
            Self::Reactivate => "subscription.reactivate",
            Self::Revoke { .. } => "subscription.revoke",
            Self::ChangeQuota(_) => "subscription.change_quota",
        }
    }
}

/// Administrators' control of any subscription: suspend, reactivate, revoke, change its quota. Each change,
/// its effect on the bound keys and its audit event commit together, with the jobs that bring LiteLLM in
/// line (the keys' models, and the owner's pools through the `ConvergeUser` job the store queues); LiteLLM
/// is then updated at once, and the jobs retry whatever did not go through.
pub struct ControlSubscription {
    subscriptions: Arc<dyn SubscriptionStore>,
    converge: Arc<ConvergeKey>,
    owner_access: Arc<ConvergeUser>,
    clock: Arc<dyn Clock>,
}

impl ControlSubscription {
    pub fn new(
        subscriptions: Arc<dyn SubscriptionStore>,
        converge: Arc<ConvergeKey>,
        owner_access: Arc<ConvergeUser>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            subscriptions,
            converge,
            owner_access,
            clock,
        }
    }

    #[tracing::instrument(skip(self, actor), fields(subscription = %id, action = action.name()))]
    pub async fn execute(
        &self,
        actor: &Actor,
        id: SubscriptionId,
        action: SubscriptionAction,
    ) -> Result<Subscription, Error> {
        actor.require_admin("change subscriptions")?;
        validate(&action)?;
        let subscription =
            self.subscriptions
                .get_subscription(id)
                .await?
                .ok_or(Error::NotFound {
                    entity: "subscription",
                })?;
        let now = self.clock.now();
        let before = serde_json::json!({
            "status": subscription.status.as_str(),
            "quota": subscription.quota,
        });
        let (changed, keys) = match &action {
            SubscriptionAction::ChangeQuota(quota) => {
                if !matches!(
                    subscription.status,
                    SubscriptionStatus::Active | SubscriptionStatus::Suspended
                ) {
                    return Err(wrong_status(&subscription, "active or suspended"));
                }
                let audit = AuditEvent::by(actor, action.name(), "subscription", id, now)
                    .with_before(before)
                    .with_after(serde_json::json!({"quota": quota}));
                let changed = self
                    .subscriptions
                    .change_subscription_quota(id, quota, now, &audit)
                    .await
                    .map_err(changed_meanwhile)?;
                (changed, Vec::new())
            }
            SubscriptionAction::Suspend { reason } | SubscriptionAction::Revoke { reason } => {
                let (to, allowed): (_, &[SubscriptionStatus]) = match action {
                    SubscriptionAction::Suspend { .. } => {
                        (SubscriptionStatus::Suspended, &[SubscriptionStatus::Active])
                    }
                    _ => (
                        SubscriptionStatus::Cancelled,
                        &[
                            SubscriptionStatus::Pending,
                            SubscriptionStatus::Active,
                            SubscriptionStatus::Suspended,
                        ],
                    ),
                };
                if !allowed.contains(&subscription.status) {
                    return Err(wrong_status(
                        &subscription,
                        if to == SubscriptionStatus::Suspended {
                            "active"
                        } else {
                            "pending, active or suspended"
                        },
                    ));
                }
                let mut effects = KeyEffects::default();
                for key in self.subscriptions.keys_bound_to(id).await? {
                    // A revocation ends the keys that served only this subscription; a suspension keeps
                    // them (blocked while they serve nothing else) for the reactivation.
                    if to == SubscriptionStatus::Cancelled && key.subscription_ids == [id] {
                        effects.revoke.push(key.id);
                    } else {
                        effects.converge.push(key.id);
                    }
                }
                let audit = AuditEvent::by(actor, action.name(), "subscription", id, now)
                    .with_before(before)
                    .with_after(serde_json::json!({
                        "status": to.as_str(),
                        "reason": reason,
                        "keys_revoked": effects.revoke,
                        "keys_updated": effects.converge,
                    }));
                let changed = self
                    .subscriptions
                    .change_subscription_status_cascading(
                        id,
                        subscription.status,
                        to,
                        Some(reason.clone()),
                        &effects,
                        now,
                        &audit,
                    )
                    .await
                    .map_err(changed_meanwhile)?;
                (
                    changed,
                    effects.revoke.into_iter().chain(effects.converge).collect(),
                )
            }
            SubscriptionAction::Reactivate => {
                if subscription.status != SubscriptionStatus::Suspended {
                    return Err(wrong_status(&subscription, "suspended"));
                }
                let effects = KeyEffects {
                    revoke: Vec::new(),
                    converge: self
                        .subscriptions
                        .keys_bound_to(id)
                        .await?
                        .into_iter()
                        .map(|k| k.id)
                        .collect(),
                };
                let audit = AuditEvent::by(actor, action.name(), "subscription", id, now)
                    .with_before(before)
                    .with_after(serde_json::json!({
                        "status": "active",
                        "keys_updated": effects.converge,
                    }));
                let changed = self
                    .subscriptions
                    .change_subscription_status_cascading(
                        id,
                        SubscriptionStatus::Suspended,
                        SubscriptionStatus::Active,
                        Some("reactivated by an administrator".into()),
                        &effects,
                        now,
                        &audit,
                    )
                    .await
                    .map_err(changed_meanwhile)?;
                (changed, effects.converge)
            }
        };
        // The pools first (a returning model must draw on its pool from its first request), then the keys.
        if let Err(error) = self.owner_access.execute(changed.user_id).await {
            tracing::warn!(%error, "LiteLLM's pools not updated yet; the job will retry");
        }
        for key in keys {
            if let Err(error) = self.converge.execute(key).await {
                tracing::warn!(%key, %error, "LiteLLM not updated yet for a key; the job will retry");
            }
        }
        Ok(changed)
    }
}

fn validate(action: &SubscriptionAction) -> Result<(), Error> {
    match action {
        SubscriptionAction::Suspend { reason } | SubscriptionAction::Revoke { reason } => {
            let length = reason.trim().chars().count();
            if length == 0 || length > MAX_REASON_LEN {
                return Err(FieldError::new(
                    "reason",
                    format!("a reason of 1 to {MAX_REASON_LEN} characters, shown to the user"),
                )
                .into());
            }
            Ok(())
        }
        SubscriptionAction::ChangeQuota(quota) => quota.validate().map_err(|errors| {
            Error::Invalid(errors.into_iter().map(|e| e.nested("quota")).collect())
        }),
        SubscriptionAction::Reactivate => Ok(()),
    }
}

fn wrong_status(subscription: &Subscription, wanted: &str) -> Error {
    Error::Conflict {
        field: None,
        message: format!(
            "the subscription is {}; this needs one that is {wanted}",
            subscription.status.as_str()
        ),
    }
}

fn changed_meanwhile(error: StoreError) -> Error {
    match error {
        StoreError::NotFound => Error::Conflict {
            field: None,
            message: "the subscription changed meanwhile; reload it and try again".into(),
        },
        other => other.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::*;
    use crate::keys::ApiKeyStatus;
    use crate::subscriptions::MockSubscriptionStore;
    use crate::users::Role;

    fn admin() -> Actor {
        let mut actor = alice();
        actor.roles = vec![Role::Admin];
        actor
    }

    fn run(store: MockSubscriptionStore) -> ControlSubscription {
        ControlSubscription::new(
            Arc::new(store),
            converge_offline(),
            converge_user_offline(),
            fixed_clock(),
        )
    }

    #[tokio::test]
    async fn only_administrators_control_subscriptions() {
        let err = run(MockSubscriptionStore::new())
            .execute(
                &alice(),
                SubscriptionId::new(),
                SubscriptionAction::Reactivate,
            )
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Forbidden(_)));
    }

    #[tokio::test]
    async fn suspending_keeps_every_bound_key_and_converges_them_with_the_reason() {
        let sub = subscription(alice().user_id, "gpt-4o-mini", SubscriptionStatus::Active);
        let id = sub.id;
        let mut only = api_key(alice().user_id, ApiKeyStatus::Active);
        only.subscription_ids = vec![id];
        let only_id = only.id;
        let mut store = subscription_store_with(sub.clone(), vec![only]);
        store
            .expect_change_subscription_status_cascading()
            .times(1)
            .withf(move |i, from, to, reason, effects, _, a| {
                *i == id
                    && *from == SubscriptionStatus::Active
                    && *to == SubscriptionStatus::Suspended
                    && reason.as_deref() == Some("abuse")
                    && effects.revoke.is_empty()
                    && effects.converge == vec![only_id]
                    && a.action == "subscription.suspend"
            })
            .returning(move |_, _, to, _, _, _, _| Ok(with_status(&sub, to)));
        let out = run(store)
            .execute(
                &admin(),
                id,
                SubscriptionAction::Suspend {
                    reason: "abuse".into(),
                },
            )
            .await
            .unwrap();
        assert_eq!(out.status, SubscriptionStatus::Suspended);
    }

    #[tokio::test]
    async fn revoking_ends_keys_that_served_only_this_subscription() {
        let sub = subscription(
            alice().user_id,
            "gpt-4o-mini",
            SubscriptionStatus::Suspended,
        );
        let id = sub.id;
        let mut only = api_key(alice().user_id, ApiKeyStatus::Active);
        only.subscription_ids = vec![id];
        let mut shared = api_key(alice().user_id, ApiKeyStatus::Active);
        shared.subscription_ids = vec![id, SubscriptionId::new()];
        let (only_id, shared_id) = (only.id, shared.id);
        let mut store = subscription_store_with(sub.clone(), vec![only, shared]);
        store
            .expect_change_subscription_status_cascading()
            .times(1)
            .withf(move |_, from, to, _, effects, _, _| {
                *from == SubscriptionStatus::Suspended
                    && *to == SubscriptionStatus::Cancelled
                    && effects.revoke == vec![only_id]
                    && effects.converge == vec![shared_id]
            })
            .returning(move |_, _, to, _, _, _, _| Ok(with_status(&sub, to)));
        run(store)
            .execute(
                &admin(),
                id,
                SubscriptionAction::Revoke {
                    reason: "left the team".into(),
                },
            )
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn a_quota_is_checked_and_only_active_or_suspended_subscriptions_take_one() {
        let bad = Limits {
            rpm_limit: Some(0),
            ..Limits::UNLIMITED
        };
        let err = run(MockSubscriptionStore::new())
            .execute(
                &admin(),
                SubscriptionId::new(),
                SubscriptionAction::ChangeQuota(bad),
            )
            .await
            .unwrap_err();
        let Error::Invalid(errors) = err else {
            panic!("{err:?}")
        };
        assert_eq!(errors[0].field, "quota.rpm_limit");

        let pending = subscription(alice().user_id, "m", SubscriptionStatus::Pending);
        let id = pending.id;
        let mut store = subscription_store_with(pending, vec![]);
        store.expect_change_subscription_quota().never();
        let err = run(store)
            .execute(
                &admin(),
                id,
                SubscriptionAction::ChangeQuota(Limits::UNLIMITED),
            )
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Conflict { .. }), "{err:?}");
    }

    #[tokio::test]
    async fn reactivating_needs_a_suspended_subscription() {
        let active = subscription(alice().user_id, "m", SubscriptionStatus::Active);
        let id = active.id;
        let err = run(subscription_store_with(active, vec![]))
            .execute(&admin(), id, SubscriptionAction::Reactivate)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Conflict { .. }));
    }

    #[tokio::test]
    async fn a_suspension_needs_a_reason() {
        let err = run(MockSubscriptionStore::new())
            .execute(
                &admin(),
                SubscriptionId::new(),
                SubscriptionAction::Suspend { reason: " ".into() },
            )
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Invalid(_)));
    }

    #[tokio::test]
    async fn changing_a_quota_stores_it_with_an_audit_event_and_keeps_the_status() {
        let sub = subscription(
            alice().user_id,
            "gpt-4o-mini",
            SubscriptionStatus::Suspended,
        );
        let id = sub.id;
        let new_quota = quota(25);
        let mut store = subscription_store_with(sub.clone(), vec![]);
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let s = seen.clone();
        store
            .expect_change_subscription_quota()
            .times(1)
            .returning(move |i, q, _, audit| {
                s.lock().unwrap().push((i, q.clone(), audit.action.clone()));
                let mut changed = sub.clone();
                changed.quota = q.clone();
                Ok(changed)
            });
        store.expect_change_subscription_status_cascading().never();
        let out = run(store)
            .execute(
                &admin(),
                id,
                SubscriptionAction::ChangeQuota(new_quota.clone()),
            )
            .await
            .unwrap();
        assert_eq!(out.quota, new_quota);
        assert_eq!(out.status, SubscriptionStatus::Suspended);
        assert_eq!(
            *seen.lock().unwrap(),
            [(id, new_quota, "subscription.change_quota".to_owned())]
        );
    }
}
