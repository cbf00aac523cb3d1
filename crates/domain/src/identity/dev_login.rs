//! The development login: pick a username and a role, get a session, no identity provider involved. Only
//! when the operator turned it on (`KEYPORT_DEV_LOGIN=true`); a production profile refuses to start with it.

use crate::audit::AuditEvent;
use crate::identity::StartSession;
use crate::identity::{ClientInfo, IssuedSession, SessionOrigin};
use crate::ids::UserId;
use crate::runtime::Clock;
use crate::users::UserStore;
use crate::users::{normalize_roles, validate_username, Role, User, UserStatus};
use crate::{Error, StoreError};
use std::sync::Arc;

pub struct DevLogin {
    enabled: bool,
    users: Arc<dyn UserStore>,
    clock: Arc<dyn Clock>,
    start: Arc<StartSession>,
}

impl DevLogin {
    pub fn new(
        enabled: bool,
        users: Arc<dyn UserStore>,
        clock: Arc<dyn Clock>,
        start: Arc<StartSession>,
    ) -> Self {
        Self {
            enabled,
            users,
            clock,
            start,
        }
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Signs in as `username` with `role` (plus `user`), creating the user when new and changing their
    /// roles when they differ; each change is audited as done by the development login.
    pub async fn execute(
        &self,
        username: &str,
        role: Role,
        client: ClientInfo,
    ) -> Result<IssuedSession, Error> {
        if !self.enabled {
            return Err(Error::NotFound {
                entity: "development login",
            });
        }
        let username = validate_username(username)?;
        let roles = normalize_roles(&[role]);
        let now = self.clock.now();
        let system = |action: &str, id: UserId| {
            let mut event = AuditEvent::system(action, "user", id, now);
            event.request_id = client.request_id.clone();
            event.client_addr = client.addr.clone();
            event.client_request_id = client.client_request_id.clone();
            event.with_before(serde_json::json!({"via": "development login"}))
        };
        let user = match self.users.find_user_by_username(&username).await? {
            Some(user) if user.roles != roles => {
                let audit = system("user.roles", user.id)
                    .with_after(serde_json::json!({"roles": roles_json(&roles)}));
                self.users
                    .set_user_roles(user.id, &roles, now, &audit)
                    .await?
            }
            Some(user) => user,
            None => {
                let user = User {
                    id: UserId::new(),
                    username: username.clone(),
                    email: None,
                    display_name: None,
                    roles: roles.clone(),
                    status: UserStatus::Active,
                    created_at: now,
                };
                let audit = system("user.create", user.id).with_after(serde_json::json!({
                    "username": username,
                    "roles": roles_json(&roles),
                }));
                match self.users.insert_user(&user, None, &audit).await {
                    Ok(()) => user,
                    // Created by a concurrent login meanwhile: use that one.
                    Err(StoreError::Conflict { .. }) => {
                        self.users.find_user_by_username(&username).await?.ok_or(
                            Error::Conflict {
                                field: Some("username".into()),
                                message: "the user changed meanwhile; try again".into(),
                            },
                        )?
                    }
                    Err(other) => return Err(other.into()),
                }
            }
        };
        self.start
            .execute(user, SessionOrigin::Development, client, None)
            .await
    }
}

fn roles_json(roles: &[Role]) -> Vec<&'static str> {
    roles.iter().map(|r| r.as_str()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::*;
    use crate::identity::{MockSessionStore, SessionPolicy};
    use crate::users::MockUserStore;

    fn start(expect_session: bool) -> Arc<StartSession> {
        let mut sessions = MockSessionStore::new();
        if expect_session {
            sessions
                .expect_insert_session()
                .times(1)
                .returning(|_, _| Ok(()));
        } else {
            sessions.expect_insert_session().never();
        }
        Arc::new(StartSession::new(
            Arc::new(sessions),
            fixed_clock(),
            fixed_secrets(),
            SessionPolicy::default(),
        ))
    }

    fn existing(roles: Vec<Role>, status: UserStatus) -> User {
        User {
            id: alice().user_id,
            username: "alice".into(),
            email: None,
            display_name: None,
            roles,
            status,
            created_at: now(),
        }
    }

    #[tokio::test]
    async fn turned_off_it_is_not_found_and_touches_nothing() {
        let mut users = MockUserStore::new();
        users.expect_find_user_by_username().never();
        let uc = DevLogin::new(false, Arc::new(users), fixed_clock(), start(false));
        let err = uc
            .execute("alice", Role::Admin, ClientInfo::default())
            .await
            .unwrap_err();
        assert!(matches!(err, Error::NotFound { .. }));
    }

    #[tokio::test]
    async fn a_new_name_creates_the_user_with_the_chosen_role() {
        let mut users = MockUserStore::new();
        users.expect_find_user_by_username().returning(|_| Ok(None));
        users
            .expect_insert_user()
            .times(1)
            .withf(|u, token, audit| {
                u.username == "carol"
                    && u.roles == vec![Role::User, Role::Auditor]
                    && token.is_none()
                    && audit.action == "user.create"
            })
            .returning(|_, _, _| Ok(()));
        let uc = DevLogin::new(true, Arc::new(users), fixed_clock(), start(true));
        let issued = uc
            .execute(" carol ", Role::Auditor, ClientInfo::default())
            .await
            .unwrap();
        assert_eq!(issued.user.username, "carol");
        assert_eq!(issued.user.roles, vec![Role::User, Role::Auditor]);
    }

    #[tokio::test]
    async fn an_existing_user_gets_the_chosen_role_and_a_suspended_one_no_session() {
        let mut users = MockUserStore::new();
        users
            .expect_find_user_by_username()
            .returning(|_| Ok(Some(existing(vec![Role::User], UserStatus::Active))));
        users
            .expect_set_user_roles()
            .times(1)
            .withf(|_, roles, _, audit| {
                roles == [Role::User, Role::Admin] && audit.action == "user.roles"
            })
            .returning(|_, roles, _, _| Ok(existing(roles.to_vec(), UserStatus::Active)));
        let uc = DevLogin::new(true, Arc::new(users), fixed_clock(), start(true));
        let issued = uc
            .execute("alice", Role::Admin, ClientInfo::default())
            .await
            .unwrap();
        assert!(issued.user.is_admin());

        let mut users = MockUserStore::new();
        users
            .expect_find_user_by_username()
            .returning(|_| Ok(Some(existing(vec![Role::User], UserStatus::Suspended))));
        let uc = DevLogin::new(true, Arc::new(users), fixed_clock(), start(false));
        let err = uc
            .execute("alice", Role::User, ClientInfo::default())
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Forbidden(_)));
    }

    #[tokio::test]
    async fn a_bad_username_is_invalid() {
        let users = MockUserStore::new();
        let uc = DevLogin::new(true, Arc::new(users), fixed_clock(), start(false));
        let err = uc
            .execute("no spaces", Role::User, ClientInfo::default())
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Invalid(e) if e[0].field == "username"));
    }
}
