use crate::audit::AuditEvent;
use crate::runtime::Clock;
use crate::users::UserDirectory;
use crate::users::UserStore;
use crate::users::{Actor, User, UserStatus};
use crate::{ConflictKind, Error, StoreError};
use std::sync::Arc;

/// Suspend or reactivate a user. The status change and a job for each of the user's live keys commit
/// together; the jobs block the keys in LiteLLM (suspended) or unblock them (reactivated). The user's access
/// tokens stop (or start again) authenticating at once. Suspension goes through the same guard as the API's:
/// the last active administrator cannot be suspended.
pub struct SetUserStatus {
    users: Arc<dyn UserStore>,
    directory: Arc<dyn UserDirectory>,
    clock: Arc<dyn Clock>,
}

impl SetUserStatus {
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

    /// `actor` is `None` for the command line (an operator on the server).
    pub async fn execute(
        &self,
        actor: Option<&Actor>,
        username: &str,
        status: UserStatus,
    ) -> Result<User, Error> {
        if let Some(actor) = actor {
            if !actor.is_admin() {
                return Err(Error::Forbidden(
                    "only administrators suspend or reactivate users".into(),
                ));
            }
        }
        let user = self
            .users
            .find_user_by_username(username.trim())
            .await?
            .ok_or(Error::NotFound { entity: "user" })?;
        apply_status(
            self.users.as_ref(),
            self.directory.as_ref(),
            self.clock.as_ref(),
            actor,
            user,
            status,
        )
        .await
    }
}

/// Moves `user` to `status` (nothing when it is there already), audited as done by `actor` (`None`: an
/// operator's command): suspension through the directory's last-active-administrator guard, reactivation
/// directly; both queue the jobs that block or unblock the user's keys in LiteLLM.
pub(crate) async fn apply_status(
    users: &dyn UserStore,
    directory: &dyn UserDirectory,
    clock: &dyn Clock,
    actor: Option<&Actor>,
    user: User,
    status: UserStatus,
) -> Result<User, Error> {
    if user.status == status {
        return Ok(user);
    }
    let now = clock.now();
    let action = match status {
        UserStatus::Suspended => "user.suspend",
        UserStatus::Active => "user.reactivate",
    };
    let audit = match actor {
        Some(actor) => AuditEvent::by(actor, action, "user", user.id, now),
        None => AuditEvent::system(action, "user", user.id, now),
    }
    .with_before(serde_json::json!({"status": user.status.as_str()}))
    .with_after(serde_json::json!({"status": status.as_str()}));
    let changed = match status {
        UserStatus::Suspended => directory.suspend_user(user.id, now, &audit).await,
        UserStatus::Active => users.change_user_status(user.id, status, now, &audit).await,
    };
    changed.map_err(|e| match e {
        StoreError::NotFound => Error::NotFound { entity: "user" },
        StoreError::Conflict(ConflictKind::LastActiveAdmin) => Error::Conflict {
            field: None,
            message: "at least one active administrator must remain".into(),
        },
        other => other.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::*;
    use crate::users::MockUserDirectory;
    use crate::users::MockUserStore;

    /// Alice, under her own username, with the `user` role.
    fn alice_user(status: UserStatus) -> User {
        user(alice().user_id, status)
    }

    /// A user store that finds Alice, active.
    fn finding_active_alice() -> MockUserStore {
        let mut users = MockUserStore::new();
        users
            .expect_find_user_by_username()
            .returning(|_| Ok(Some(alice_user(UserStatus::Active))));
        users
    }

    fn use_case(users: MockUserStore, directory: MockUserDirectory) -> SetUserStatus {
        SetUserStatus::new(Arc::new(users), Arc::new(directory), fixed_clock())
    }

    #[tokio::test]
    async fn suspending_changes_the_status_with_an_audit_event_and_a_user_cannot_do_it() {
        let mut users = finding_active_alice();
        users.expect_change_user_status().never();
        let mut directory = MockUserDirectory::new();
        directory
            .expect_suspend_user()
            .times(1)
            .withf(|id, _, audit| *id == alice().user_id && audit.action == "user.suspend")
            .returning(|_, _, _| Ok(alice_user(UserStatus::Suspended)));
        let uc = use_case(users, directory);
        assert!(matches!(
            uc.execute(Some(&bob()), "alice", UserStatus::Suspended)
                .await
                .unwrap_err(),
            Error::Forbidden(_)
        ));
        let user = uc
            .execute(None, "alice", UserStatus::Suspended)
            .await
            .unwrap();
        assert_eq!(user.status, UserStatus::Suspended);
    }

    #[tokio::test]
    async fn an_unchanged_status_writes_nothing() {
        let mut users = finding_active_alice();
        users.expect_change_user_status().never();
        let user = use_case(users, MockUserDirectory::new())
            .execute(None, "alice", UserStatus::Active)
            .await
            .unwrap();
        assert_eq!(user.status, UserStatus::Active);
    }

    #[tokio::test]
    async fn the_last_active_administrator_cannot_be_suspended_from_the_command_line() {
        let users = finding_active_alice();
        let mut directory = MockUserDirectory::new();
        directory
            .expect_suspend_user()
            .returning(|_, _, _| Err(StoreError::Conflict(ConflictKind::LastActiveAdmin)));
        let err = use_case(users, directory)
            .execute(None, "alice", UserStatus::Suspended)
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::Conflict { ref message, .. } if message.contains("administrator"))
        );
    }
}
