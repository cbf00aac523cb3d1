use crate::audit::AuditEvent;
use crate::ids::UserId;
use crate::runtime::Clock;
use crate::users::UserDirectory;
use crate::users::{normalize_roles, Actor, Role, User};
use crate::{ConflictKind, Error, FieldError, StoreError};
use std::sync::Arc;

/// Replace a user's roles (`user` is always held). An administrator cannot take away their own admin role,
/// and at least one active administrator always remains (checked by the store under lock, so that two
/// concurrent changes cannot both remove the last one). Administrators only.
pub struct ChangeUserRoles {
    users: Arc<dyn UserDirectory>,
    clock: Arc<dyn Clock>,
}

impl ChangeUserRoles {
    pub fn new(users: Arc<dyn UserDirectory>, clock: Arc<dyn Clock>) -> Self {
        Self { users, clock }
    }

    pub async fn execute(
        &self,
        actor: &Actor,
        id: UserId,
        roles: &[String],
    ) -> Result<User, Error> {
        actor.require_admin("change roles")?;
        let mut errors = Vec::new();
        let mut parsed = Vec::new();
        for (index, role) in roles.iter().enumerate() {
            match Role::parse(role.trim()) {
                Some(role) => parsed.push(role),
                None => errors.push(FieldError::new(
                    format!("roles[{index}]"),
                    "one of admin, auditor, user",
                )),
            }
        }
        if !errors.is_empty() {
            return Err(Error::Invalid(errors));
        }
        let roles = normalize_roles(&parsed);
        if id == actor.user_id && !roles.contains(&Role::Admin) {
            return Err(Error::Conflict {
                field: Some("roles".into()),
                message: "you cannot remove your own admin role; ask another administrator".into(),
            });
        }
        let overview = self
            .users
            .user_overview(id)
            .await?
            .ok_or(Error::NotFound { entity: "user" })?;
        let before = overview.user;
        if normalize_roles(&before.roles) == roles {
            return Ok(before);
        }
        let now = self.clock.now();
        let audit = AuditEvent::by(actor, "user.roles", "user", id, now)
            .with_before(serde_json::json!({ "roles": role_names(&before.roles) }))
            .with_after(serde_json::json!({ "roles": role_names(&roles) }));
        self.users
            .change_roles(id, &roles, now, &audit)
            .await
            .map_err(|e| match e {
                StoreError::NotFound => Error::NotFound { entity: "user" },
                StoreError::Conflict(ConflictKind::LastActiveAdmin) => Error::Conflict {
                    field: Some("roles".into()),
                    message: "at least one active administrator must remain".into(),
                },
                other => other.into(),
            })
    }
}

fn role_names(roles: &[Role]) -> Vec<&'static str> {
    roles.iter().map(|r| r.as_str()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::*;
    use crate::users::UserStatus;
    use crate::users::{MockUserDirectory, UserOverview};

    fn overview(id: UserId, roles: Vec<Role>) -> UserOverview {
        UserOverview {
            user: User {
                id,
                username: "bob".into(),
                email: None,
                display_name: None,
                roles,
                status: UserStatus::Active,
                created_at: now(),
            },
            keys: 0,
            live_keys: 0,
            subscriptions: 0,
            active_subscriptions: 0,
            pending_subscriptions: 0,
        }
    }

    fn strings(roles: &[&str]) -> Vec<String> {
        roles.iter().map(|r| (*r).to_owned()).collect()
    }

    #[tokio::test]
    async fn roles_are_replaced_normalised_with_before_and_after_in_the_audit() {
        let bob_id = bob().user_id;
        let mut users = MockUserDirectory::new();
        users
            .expect_user_overview()
            .returning(move |id| Ok(Some(overview(id, vec![Role::User]))));
        users
            .expect_change_roles()
            .times(1)
            .withf(move |id, roles, _, audit| {
                *id == bob_id
                    && roles == [Role::User, Role::Auditor]
                    && audit.action == "user.roles"
                    && audit.before == Some(serde_json::json!({"roles": ["user"]}))
                    && audit.after == Some(serde_json::json!({"roles": ["user", "auditor"]}))
            })
            .returning(|id, roles, _, _| Ok(overview(id, roles.to_vec()).user));
        let user = ChangeUserRoles::new(Arc::new(users), fixed_clock())
            .execute(&admin(), bob_id, &strings(&["auditor", "auditor"]))
            .await
            .unwrap();
        assert_eq!(user.roles, [Role::User, Role::Auditor]);
    }

    #[tokio::test]
    async fn an_admin_cannot_drop_their_own_admin_role_and_a_user_cannot_change_roles() {
        let mut users = MockUserDirectory::new();
        users.expect_change_roles().never();
        let uc = ChangeUserRoles::new(Arc::new(users), fixed_clock());
        let err = uc
            .execute(&admin(), admin().user_id, &strings(&["user"]))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Conflict { field: Some(ref f), .. } if f == "roles"));
        let err = uc
            .execute(&bob(), alice().user_id, &strings(&["admin"]))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Forbidden(_)));
        let err = uc
            .execute(&admin(), bob().user_id, &strings(&["user", "root"]))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Invalid(ref e) if e[0].field == "roles[1]"));
    }

    #[tokio::test]
    async fn removing_the_last_active_admin_is_a_conflict_on_roles() {
        let mut users = MockUserDirectory::new();
        users
            .expect_user_overview()
            .returning(|id| Ok(Some(overview(id, vec![Role::User, Role::Admin]))));
        users
            .expect_change_roles()
            .returning(|_, _, _, _| Err(StoreError::Conflict(ConflictKind::LastActiveAdmin)));
        let err = ChangeUserRoles::new(Arc::new(users), fixed_clock())
            .execute(&admin(), bob().user_id, &strings(&["user"]))
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::Conflict { field: Some(ref f), ref message } if f == "roles" && message.contains("active administrator"))
        );
    }
}
