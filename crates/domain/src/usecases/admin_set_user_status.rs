use crate::audit::AuditEvent;
use crate::ids::UserId;
use crate::ports::{Clock, UserStore};
use crate::usecases::admin_users::require_admin;
use crate::user::{Actor, User, UserStatus};
use crate::{Error, StoreError};
use std::sync::Arc;

/// Suspend or reactivate a user by id, through the API: like the command line's `suspend-user`, the status
/// change and a job per live key (blocking or unblocking it in LiteLLM) commit together. An administrator
/// cannot suspend themselves. Administrators only.
pub struct SetUserStatusById {
    users: Arc<dyn UserStore>,
    clock: Arc<dyn Clock>,
}

impl SetUserStatusById {
    pub fn new(users: Arc<dyn UserStore>, clock: Arc<dyn Clock>) -> Self {
        Self { users, clock }
    }

    pub async fn execute(
        &self,
        actor: &Actor,
        id: UserId,
        status: UserStatus,
    ) -> Result<User, Error> {
        require_admin(actor, "suspend or reactivate users")?;
        if id == actor.user_id && status == UserStatus::Suspended {
            return Err(Error::Conflict {
                field: None,
                message: "you cannot suspend yourself".into(),
            });
        }
        let user = self
            .users
            .get_user(id)
            .await?
            .ok_or(Error::NotFound { entity: "user" })?;
        if user.status == status {
            return Ok(user);
        }
        let now = self.clock.now();
        let action = match status {
            UserStatus::Suspended => "user.suspend",
            UserStatus::Active => "user.reactivate",
        };
        let audit = AuditEvent::by(actor, action, "user", id, now)
            .with_before(serde_json::json!({"status": user.status.as_str()}))
            .with_after(serde_json::json!({"status": status.as_str()}));
        self.users
            .change_user_status(id, status, now, &audit)
            .await
            .map_err(|e| match e {
                StoreError::NotFound => Error::NotFound { entity: "user" },
                other => other.into(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::MockUserStore;
    use crate::usecases::fixtures::*;
    use crate::user::Role;

    fn admin() -> Actor {
        let mut actor = alice();
        actor.roles.push(Role::Admin);
        actor
    }

    fn bob_user(status: UserStatus) -> User {
        User {
            id: bob().user_id,
            username: "bob".into(),
            email: None,
            display_name: None,
            roles: vec![Role::User],
            status,
            created_at: now(),
        }
    }

    #[tokio::test]
    async fn an_admin_suspends_someone_by_id_with_an_audit_event() {
        let mut users = MockUserStore::new();
        users
            .expect_get_user()
            .returning(|_| Ok(Some(bob_user(UserStatus::Active))));
        users
            .expect_change_user_status()
            .times(1)
            .withf(|id, status, _, audit| {
                *id == bob().user_id
                    && *status == UserStatus::Suspended
                    && audit.action == "user.suspend"
                    && audit.actor == Some(alice().user_id)
                    && audit.before == Some(serde_json::json!({"status": "active"}))
            })
            .returning(|_, status, _, _| Ok(bob_user(status)));
        let user = SetUserStatusById::new(Arc::new(users), fixed_clock())
            .execute(&admin(), bob().user_id, UserStatus::Suspended)
            .await
            .unwrap();
        assert_eq!(user.status, UserStatus::Suspended);
    }

    #[tokio::test]
    async fn nobody_suspends_themselves_and_users_suspend_nobody() {
        let mut users = MockUserStore::new();
        users.expect_change_user_status().never();
        users.expect_get_user().never();
        let uc = SetUserStatusById::new(Arc::new(users), fixed_clock());
        assert!(matches!(
            uc.execute(&admin(), admin().user_id, UserStatus::Suspended)
                .await
                .unwrap_err(),
            Error::Conflict { .. }
        ));
        assert!(matches!(
            uc.execute(&bob(), alice().user_id, UserStatus::Suspended)
                .await
                .unwrap_err(),
            Error::Forbidden(_)
        ));
    }

    #[tokio::test]
    async fn an_unknown_user_is_not_found_and_an_unchanged_status_writes_nothing() {
        let mut users = MockUserStore::new();
        users
            .expect_get_user()
            .returning(|id| Ok((id == bob().user_id).then(|| bob_user(UserStatus::Active))));
        users.expect_change_user_status().never();
        let uc = SetUserStatusById::new(Arc::new(users), fixed_clock());
        assert_eq!(
            uc.execute(&admin(), UserId::new(), UserStatus::Active)
                .await
                .unwrap_err(),
            Error::NotFound { entity: "user" }
        );
        assert_eq!(
            uc.execute(&admin(), bob().user_id, UserStatus::Active)
                .await
                .unwrap()
                .status,
            UserStatus::Active
        );
    }
}
