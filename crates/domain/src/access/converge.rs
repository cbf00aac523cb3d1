use crate::access::AccessStore;
use crate::access::UserAccess;
use crate::gateway::{Gateway, GatewayUser};
use crate::ids::UserId;
use crate::jobs::job_error;
use crate::runtime::Clock;
use crate::{Error, GatewayError};
use std::sync::Arc;

/// What converging a user did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserConverged {
    /// LiteLLM now holds this access (role, models, spend pools, rate pools).
    InLine(UserAccess),
    /// The user no longer exists in keyport.
    Skipped,
}

/// Bring LiteLLM in line with one user's subscriptions (docs/quotas.md): the job behind every change of a
/// subscription's status or quota, and the step before a key is created or converged while the owner's
/// access is pending. It reads keyport's record and writes LiteLLM's whole desired state, so running it twice,
/// or again after a crash half way, is harmless:
///
/// 1. the LiteLLM user exists (`/user/new`, role `internal_user_viewer`, no key of its own);
/// 2. its role, models and per-model spend pools (`model_max_budget`) are set, replaced whole;
/// 3. its team exists with it as a member and the per-model rate pools in its metadata.
///
/// Only then is the version read in step 0 recorded as synced, so that a change made meanwhile stays
/// pending and its own job runs again.
pub struct ConvergeUser {
    access: Arc<dyn AccessStore>,
    gateway: Arc<dyn Gateway>,
    clock: Arc<dyn Clock>,
}

impl ConvergeUser {
    pub fn new(
        access: Arc<dyn AccessStore>,
        gateway: Arc<dyn Gateway>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            access,
            gateway,
            clock,
        }
    }

    #[tracing::instrument(skip(self), fields(user = %id))]
    pub async fn execute(&self, id: UserId) -> Result<UserConverged, Error> {
        let Some(record) = self.access.access_record(id).await? else {
            return Ok(UserConverged::Skipped);
        };
        let access = record.access();
        match self.apply(&access).await {
            Ok(()) => {
                self.access
                    .mark_access_synced(id, record.version, self.clock.now())
                    .await?;
                Ok(UserConverged::InLine(access))
            }
            Err(error) => {
                let message = error.to_string();
                if let Err(e) = self
                    .access
                    .record_access_error(id, &message, self.clock.now())
                    .await
                {
                    tracing::warn!(error = %e, "could not record the user's sync error");
                }
                Err(job_error(error))
            }
        }
    }

    async fn apply(&self, access: &UserAccess) -> Result<(), GatewayError> {
        let user = GatewayUser {
            user_id: access.user_id,
            email: access.email.clone(),
            alias: access.alias.clone(),
        };
        match self.gateway.ensure_user(&user).await {
            Ok(()) => {}
            // Another LiteLLM user holds the email (LiteLLM keeps emails unique): create it without one.
            Err(GatewayError::Conflict { .. }) => {
                self.gateway
                    .ensure_user(&GatewayUser {
                        email: None,
                        ..user
                    })
                    .await?
            }
            Err(other) => return Err(other),
        }
        self.gateway.set_user_access(access).await?;
        self.gateway.ensure_team(access).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::GATEWAY_USER_ROLE;
    use crate::access::{AccessRecord, MockAccessStore};
    use crate::fixtures::*;
    use crate::gateway::MockGateway;
    use crate::subscriptions::SubscriptionStatus;
    use crate::users::{Role, User, UserStatus};
    use std::sync::Mutex;

    fn record(version: i64) -> AccessRecord {
        let owner = alice().user_id;
        AccessRecord {
            user: User {
                id: owner,
                username: "alice".into(),
                email: Some("alice@example.com".into()),
                display_name: None,
                roles: vec![Role::User],
                status: UserStatus::Active,
                created_at: now(),
            },
            subscriptions: vec![
                subscription(owner, "gpt-4o-mini", SubscriptionStatus::Active),
                subscription(owner, "claude", SubscriptionStatus::Suspended),
            ],
            version,
            synced_version: 0,
        }
    }

    fn store(version: i64, synced: Arc<Mutex<Vec<i64>>>) -> MockAccessStore {
        let mut store = MockAccessStore::new();
        store
            .expect_access_record()
            .returning(move |_| Ok(Some(record(version))));
        store.expect_mark_access_synced().returning(move |_, v, _| {
            synced.lock().unwrap().push(v);
            Ok(())
        });
        store
            .expect_record_access_error()
            .returning(|_, _, _| Ok(()));
        store
    }

    #[tokio::test]
    async fn the_user_gets_the_models_of_active_subscriptions_its_pools_and_its_team_then_is_synced(
    ) {
        let synced = Arc::new(Mutex::new(Vec::new()));
        let calls = Arc::new(Mutex::new(Vec::new()));
        let mut gateway = MockGateway::new();
        let c = calls.clone();
        gateway.expect_ensure_user().returning(move |_| {
            c.lock().unwrap().push("ensure_user".to_owned());
            Ok(())
        });
        let c = calls.clone();
        gateway.expect_set_user_access().returning(move |a| {
            let models: Vec<&str> = a.models.iter().map(|m| m.as_str()).collect();
            assert_eq!(models, ["gpt-4o-mini"], "only active subscriptions");
            c.lock().unwrap().push("set_user_access".to_owned());
            Ok(())
        });
        let c = calls.clone();
        gateway.expect_ensure_team().returning(move |a| {
            assert_eq!(a.team_id(), format!("keyport-{}", alice().user_id));
            c.lock().unwrap().push("ensure_team".to_owned());
            Ok(())
        });
        let out = ConvergeUser::new(
            Arc::new(store(7, synced.clone())),
            Arc::new(gateway),
            fixed_clock(),
        )
        .execute(alice().user_id)
        .await
        .unwrap();
        assert!(matches!(out, UserConverged::InLine(_)));
        assert_eq!(
            *calls.lock().unwrap(),
            ["ensure_user", "set_user_access", "ensure_team"]
        );
        assert_eq!(
            *synced.lock().unwrap(),
            [7],
            "the version read is the one synced"
        );
        assert_eq!(GATEWAY_USER_ROLE, "internal_user_viewer");
    }

    #[tokio::test]
    async fn an_email_another_litellm_user_holds_does_not_stop_the_user_from_being_created() {
        let synced = Arc::new(Mutex::new(Vec::new()));
        let mut gateway = MockGateway::new();
        gateway
            .expect_ensure_user()
            .withf(|u| u.email.is_some())
            .returning(|_| {
                Err(GatewayError::Conflict {
                    field: "user_email".into(),
                    message: "taken".into(),
                })
            });
        gateway
            .expect_ensure_user()
            .withf(|u| u.email.is_none())
            .times(1)
            .returning(|_| Ok(()));
        gateway.expect_set_user_access().returning(|_| Ok(()));
        gateway.expect_ensure_team().returning(|_| Ok(()));
        ConvergeUser::new(
            Arc::new(store(1, synced.clone())),
            Arc::new(gateway),
            fixed_clock(),
        )
        .execute(alice().user_id)
        .await
        .unwrap();
        assert_eq!(*synced.lock().unwrap(), [1]);
    }

    #[tokio::test]
    async fn litellm_down_leaves_the_user_pending_so_that_the_job_retries() {
        let synced = Arc::new(Mutex::new(Vec::new()));
        let mut gateway = MockGateway::new();
        gateway.expect_ensure_user().returning(|_| Ok(()));
        gateway
            .expect_set_user_access()
            .returning(|_| Err(GatewayError::Unavailable("refused".into())));
        gateway.expect_ensure_team().never();
        let err = ConvergeUser::new(
            Arc::new(store(3, synced.clone())),
            Arc::new(gateway),
            fixed_clock(),
        )
        .execute(alice().user_id)
        .await
        .unwrap_err();
        assert!(matches!(err, Error::GatewayUnavailable { .. }));
        assert!(synced.lock().unwrap().is_empty());
    }
}
