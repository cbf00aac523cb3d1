use crate::audit::AuditEvent;
use crate::audit::MAX_REASON_LEN;
use crate::ids::SubscriptionId;
use crate::runtime::Clock;
use crate::subscriptions::SubscriptionStore;
use crate::subscriptions::{Subscription, SubscriptionStatus};
use crate::users::Actor;
use crate::{Error, FieldError, StoreError};
use std::sync::Arc;

/// The most subscriptions one decision covers.
pub const MAX_DECISION_BATCH: usize = 100;

/// Approve, or reject with a reason (shown to the user).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Approve,
    Reject { reason: String },
}

/// What happened to one subscription of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecisionOutcome {
    Approved(Subscription),
    Rejected(Subscription),
    /// It was no longer pending (decided by someone else, cancelled, …); nothing was changed.
    NotPending {
        status: SubscriptionStatus,
    },
    NotFound,
    /// The change could not be made (e.g. the database did not answer); nothing was changed for this one.
    Failed {
        message: String,
    },
}

impl DecisionOutcome {
    pub fn succeeded(&self) -> bool {
        matches!(self, Self::Approved(_) | Self::Rejected(_))
    }
}

/// Approve or reject pending subscriptions in bulk. Each subscription is decided in its own transaction
/// (conditional on still being `pending`, so a subscription two administrators decide at once is decided
/// once), with a history row naming the administrator and an audit event; the answer says what happened to
/// each, so a failure never leaves the caller guessing which half of a batch was done. A rejected user may
/// ask again. Administrators only.
pub struct DecideSubscriptions {
    subscriptions: Arc<dyn SubscriptionStore>,
    clock: Arc<dyn Clock>,
}

impl DecideSubscriptions {
    pub fn new(subscriptions: Arc<dyn SubscriptionStore>, clock: Arc<dyn Clock>) -> Self {
        Self {
            subscriptions,
            clock,
        }
    }

    pub async fn execute(
        &self,
        actor: &Actor,
        ids: Vec<SubscriptionId>,
        decision: Decision,
    ) -> Result<Vec<(SubscriptionId, DecisionOutcome)>, Error> {
        actor.require_admin("approve or reject subscriptions")?;
        let mut errors = Vec::new();
        // Counted as sent (the documented maximum), decided once each.
        let sent = ids.len();
        let mut unique = Vec::new();
        for id in ids {
            if !unique.contains(&id) {
                unique.push(id);
            }
        }
        if unique.is_empty() || sent > MAX_DECISION_BATCH {
            errors.push(FieldError::new(
                "ids",
                format!("1 to {MAX_DECISION_BATCH} subscription ids"),
            ));
        }
        let (to, reason, action) = match decision {
            Decision::Approve => (SubscriptionStatus::Active, None, "subscription.approve"),
            Decision::Reject { reason } => {
                let reason = reason.trim().to_owned();
                let length = reason.chars().count();
                if length == 0 || length > MAX_REASON_LEN {
                    errors.push(FieldError::new(
                        "reason",
                        format!("a rejection needs a reason of 1 to {MAX_REASON_LEN} characters"),
                    ));
                }
                (
                    SubscriptionStatus::Rejected,
                    Some(reason),
                    "subscription.reject",
                )
            }
        };
        if !errors.is_empty() {
            return Err(Error::Invalid(errors));
        }
        let mut out = Vec::with_capacity(unique.len());
        for id in unique {
            let outcome = self.decide(actor, id, to, reason.clone(), action).await;
            out.push((id, outcome));
        }
        Ok(out)
    }

    async fn decide(
        &self,
        actor: &Actor,
        id: SubscriptionId,
        to: SubscriptionStatus,
        reason: Option<String>,
        action: &str,
    ) -> DecisionOutcome {
        let current = match self.subscriptions.get_subscription(id).await {
            Ok(Some(s)) => s,
            Ok(None) => return DecisionOutcome::NotFound,
            Err(e) => return failed(e),
        };
        if current.status != SubscriptionStatus::Pending {
            return DecisionOutcome::NotPending {
                status: current.status,
            };
        }
        let now = self.clock.now();
        let mut after = serde_json::json!({ "status": to.as_str() });
        if let Some(reason) = &reason {
            after["reason"] = serde_json::json!(reason);
        }
        let audit = AuditEvent::by(actor, action, "subscription", id, now)
            .with_before(serde_json::json!({ "status": current.status.as_str() }))
            .with_after(after);
        match self
            .subscriptions
            .change_subscription_status(
                id,
                SubscriptionStatus::Pending,
                to,
                reason,
                None,
                now,
                &audit,
            )
            .await
        {
            Ok(s) if to == SubscriptionStatus::Active => DecisionOutcome::Approved(s),
            Ok(s) => DecisionOutcome::Rejected(s),
            // Someone decided (or the user cancelled) between the read and the change.
            Err(StoreError::NotFound) => match self.subscriptions.get_subscription(id).await {
                Ok(Some(s)) => DecisionOutcome::NotPending { status: s.status },
                Ok(None) => DecisionOutcome::NotFound,
                Err(e) => failed(e),
            },
            Err(e) => failed(e),
        }
    }
}

fn failed(error: StoreError) -> DecisionOutcome {
    let message = match error {
        StoreError::Unavailable(_) => {
            "the database did not answer; nothing was changed for this one"
        }
        _ => "an unexpected error; nothing was changed for this one (see the server log)",
    };
    tracing::warn!(%error, "a subscription decision failed");
    DecisionOutcome::Failed {
        message: message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::*;
    use crate::subscriptions::MockSubscriptionStore;
    use crate::users::Role;
    use std::collections::HashMap;
    use std::sync::Mutex;

    /// A store of subscriptions that changes status like the real one (conditional on `from`); `broken`
    /// ids answer `Unavailable`.
    fn store(subs: Vec<Subscription>, broken: Vec<SubscriptionId>) -> MockSubscriptionStore {
        let state: Arc<Mutex<HashMap<SubscriptionId, Subscription>>> =
            Arc::new(Mutex::new(subs.into_iter().map(|s| (s.id, s)).collect()));
        let mut store = MockSubscriptionStore::new();
        let s = state.clone();
        store
            .expect_get_subscription()
            .returning(move |id| Ok(s.lock().unwrap().get(&id).cloned()));
        store.expect_change_subscription_status().returning(
            move |id, from, to, reason, _, _, audit| {
                assert_eq!(audit.actor, Some(alice().user_id));
                if broken.contains(&id) {
                    return Err(StoreError::Unavailable("down".into()));
                }
                let mut all = state.lock().unwrap();
                match all.get_mut(&id) {
                    Some(s) if s.status == from => {
                        s.status = to;
                        s.status_reason = reason;
                        Ok(s.clone())
                    }
                    _ => Err(StoreError::NotFound),
                }
            },
        );
        store
    }

    #[tokio::test]
    async fn a_batch_answers_per_id_and_a_failure_stops_nothing_else() {
        let pending = subscription(bob().user_id, "secret-model", SubscriptionStatus::Pending);
        let active = subscription(bob().user_id, "gpt-4o-mini", SubscriptionStatus::Active);
        let broken = subscription(alice().user_id, "secret-model", SubscriptionStatus::Pending);
        let unknown = SubscriptionId::new();
        let ids = vec![pending.id, active.id, broken.id, unknown, pending.id];
        let uc = DecideSubscriptions::new(
            Arc::new(store(
                vec![pending.clone(), active.clone(), broken.clone()],
                vec![broken.id],
            )),
            fixed_clock(),
        );
        let out = uc.execute(&admin(), ids, Decision::Approve).await.unwrap();
        assert_eq!(out.len(), 4, "duplicates are decided once");
        assert!(
            matches!(&out[0], (id, DecisionOutcome::Approved(s)) if *id == pending.id && s.status == SubscriptionStatus::Active)
        );
        assert_eq!(
            out[1].1,
            DecisionOutcome::NotPending {
                status: SubscriptionStatus::Active
            }
        );
        assert!(matches!(out[2].1, DecisionOutcome::Failed { .. }));
        assert_eq!(out[3].1, DecisionOutcome::NotFound);
        // Deciding again: the approved one is no longer pending.
        let again = uc
            .execute(&admin(), vec![pending.id], Decision::Approve)
            .await
            .unwrap();
        assert!(!again[0].1.succeeded());
    }

    #[tokio::test]
    async fn a_rejection_keeps_its_reason_and_needs_one() {
        let pending = subscription(bob().user_id, "secret-model", SubscriptionStatus::Pending);
        let uc = DecideSubscriptions::new(
            Arc::new(store(vec![pending.clone()], vec![])),
            fixed_clock(),
        );
        for reason in ["", "   ", &"x".repeat(501)] {
            let err = uc
                .execute(
                    &admin(),
                    vec![pending.id],
                    Decision::Reject {
                        reason: reason.into(),
                    },
                )
                .await
                .unwrap_err();
            assert!(
                matches!(&err, Error::Invalid(e) if e[0].field == "reason"),
                "{err:?}"
            );
        }
        let out = uc
            .execute(
                &admin(),
                vec![pending.id],
                Decision::Reject {
                    reason: " not for interns ".into(),
                },
            )
            .await
            .unwrap();
        let DecisionOutcome::Rejected(s) = &out[0].1 else {
            panic!("{out:?}")
        };
        assert_eq!(s.status, SubscriptionStatus::Rejected);
        assert_eq!(s.status_reason.as_deref(), Some("not for interns"));
    }

    #[tokio::test]
    async fn an_empty_or_oversized_batch_and_a_non_admin_are_refused() {
        let uc = DecideSubscriptions::new(Arc::new(store(vec![], vec![])), fixed_clock());
        let err = uc
            .execute(&admin(), vec![], Decision::Approve)
            .await
            .unwrap_err();
        assert!(matches!(&err, Error::Invalid(e) if e[0].field == "ids"));
        // Found by schemathesis: 101 copies of one id were one id after deduplication, and accepted.
        let copies = vec![SubscriptionId::new(); MAX_DECISION_BATCH + 1];
        let err = uc
            .execute(&admin(), copies, Decision::Approve)
            .await
            .unwrap_err();
        assert!(matches!(&err, Error::Invalid(e) if e[0].field == "ids"));
        let many = (0..=MAX_DECISION_BATCH)
            .map(|_| SubscriptionId::new())
            .collect();
        assert!(uc.execute(&admin(), many, Decision::Approve).await.is_err());
        let mut auditor = bob();
        auditor.roles.push(Role::Auditor);
        assert!(matches!(
            uc.execute(&auditor, vec![SubscriptionId::new()], Decision::Approve)
                .await
                .unwrap_err(),
            Error::Forbidden(_)
        ));
    }
}
