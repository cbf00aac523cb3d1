use crate::ids::UserId;
use crate::runtime::Clock;
use crate::users::apply_status;
use crate::users::UserDirectory;
use crate::users::UserStore;
use crate::users::{Actor, User, UserStatus};
use crate::Error;
use std::sync::Arc;

/// Suspend or reactivate a user by id, through the API: like the command line's `suspend-user`, the status
/// change and a job per live key (blocking or unblocking it in LiteLLM) commit together. An administrator
/// cannot suspend themselves, and the last active administrator cannot be suspended (checked under the
/// same lock as role changes). Administrators only.
pub struct SetUserStatusById {
    users: Arc<dyn UserStore>,
    directory: Arc<dyn UserDirectory>,
    clock: Arc<dyn Clock>,
}

impl SetUserStatusById {
    pub fn new(
        users: Arc<dyn UserStore>,
        directory: Arc<dyn UserDirectory>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            users,
            directory,
            clock,
        }
    }

    pub async fn execute(
        &self,
        actor: &Actor,
        id: UserId,
        status: UserStatus,
    ) -> Result<User, Error> {
        actor.require_admin("suspend or reactivate users")?;
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
        apply_status(
            self.users.as_ref(),
            self.directory.as_ref(),
            self.clock.as_ref(),
            Some(actor),
            user,
            status,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::*;
    use crate::users::MockUserDirectory;
    use crate::users::MockUserStore;
    use crate::{ConflictKind, StoreError};

    fn bob_user(status: UserStatus) -> User {
        named_user(bob().user_id, "bob", status)
    }

    fn use_case(users: MockUserStore, directory: MockUserDirectory) -> SetUserStatusById {
        SetUserStatusById::new(Arc::new(users), Arc::new(directory), fixed_clock())
    }

    #[tokio::test]
    async fn an_admin_suspends_someone_by_id_with_an_audit_event() {
        let mut users = MockUserStore::new();
        users
            .expect_get_user()
            .returning(|_| Ok(Some(bob_user(UserStatus::Active))));
        users.expect_change_user_status().never();
        let mut directory = MockUserDirectory::new();
        directory
            .expect_suspend_user()
            .times(1)
            .withf(|id, _, audit| {
                *id == bob().user_id
                    && audit.action == "user.suspend"
                    && audit.actor == Some(alice().user_id)
                    && audit.before == Some(serde_json::json!({"status": "active"}))
            })
            .returning(|_, _, _| Ok(bob_user(UserStatus::Suspended)));
        let user = use_case(users, directory)
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
        let uc = use_case(users, MockUserDirectory::new());
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
        let uc = use_case(users, MockUserDirectory::new());
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

    #[tokio::test]
    async fn the_last_active_admin_is_not_suspended_and_reactivation_unblocks_through_the_user_store(
    ) {
        let mut users = MockUserStore::new();
        let status = Arc::new(std::sync::Mutex::new(UserStatus::Active));
        let s = status.clone();
        users
            .expect_get_user()
            .returning(move |_| Ok(Some(bob_user(*s.lock().unwrap()))));
        users
            .expect_change_user_status()
            .times(1)
            .withf(|_, status, _, audit| {
                *status == UserStatus::Active && audit.action == "user.reactivate"
            })
            .returning(|_, status, _, _| Ok(bob_user(status)));
        let mut directory = MockUserDirectory::new();
        directory
            .expect_suspend_user()
            .returning(|_, _, _| Err(StoreError::Conflict(ConflictKind::LastActiveAdmin)));
        let uc = use_case(users, directory);
        let err = uc
            .execute(&admin(), bob().user_id, UserStatus::Suspended)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::Conflict { message, .. } if message.contains("active administrator")),
            "{err:?}"
        );
        *status.lock().unwrap() = UserStatus::Suspended;
        let user = uc
            .execute(&admin(), bob().user_id, UserStatus::Active)
            .await
            .unwrap();
        assert_eq!(user.status, UserStatus::Active);
    }
}
