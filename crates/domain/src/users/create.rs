use crate::audit::AuditEvent;
use crate::identity::{AccessToken, AccessTokenStore};
use crate::ids::{AccessTokenId, UserId};
use crate::runtime::{Clock, SecretGenerator};
use crate::secret::{Secret, SecretKind};
use crate::users::UserStore;
use crate::users::{validate_username, Role, User, UserStatus};
use crate::{Error, StoreError};
use std::sync::Arc;

/// The scopes a token made by an administrator's command gets (`admin` only for an administrator).
const FULL_SCOPES: [&str; 2] = ["read", "write"];
const ADMIN_SCOPES: [&str; 3] = ["read", "write", "admin"];

#[derive(Debug, Clone)]
pub struct CreateUserRequest {
    pub username: String,
    pub email: Option<String>,
    pub admin: bool,
}

/// A personal access token, shown once.
#[derive(Debug)]
pub struct IssuedToken {
    pub token: AccessToken,
    pub secret: Secret,
}

fn new_token(
    secrets: &dyn SecretGenerator,
    user: &User,
    name: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> IssuedToken {
    let scopes: &[&str] = if user.can_oversee() {
        &ADMIN_SCOPES
    } else {
        &FULL_SCOPES
    };
    let secret = Secret::from_random(SecretKind::AccessToken, &secrets.random_bytes());
    IssuedToken {
        token: AccessToken {
            id: AccessTokenId::new(),
            user_id: user.id,
            name: name.to_owned(),
            prefix: secret.prefix(),
            hash: secret.hash(),
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            expires_at: None,
            last_used_at: None,
            created_at: now,
            revoked_at: None,
        },
        secret,
    }
}

/// Create a user with a first personal access token (the `keyport admin create-user` command), both in one
/// transaction.
pub struct CreateUser {
    users: Arc<dyn UserStore>,
    clock: Arc<dyn Clock>,
    secrets: Arc<dyn SecretGenerator>,
}

impl CreateUser {
    pub fn new(
        users: Arc<dyn UserStore>,
        clock: Arc<dyn Clock>,
        secrets: Arc<dyn SecretGenerator>,
    ) -> Self {
        Self {
            users,
            clock,
            secrets,
        }
    }

    pub async fn execute(&self, request: CreateUserRequest) -> Result<(User, IssuedToken), Error> {
        let username = validate_username(&request.username)?;
        let now = self.clock.now();
        let mut roles = vec![Role::User];
        if request.admin {
            roles.push(Role::Admin);
        }
        let user = User {
            id: UserId::new(),
            username: username.clone(),
            email: request.email.filter(|e| !e.trim().is_empty()),
            display_name: None,
            roles,
            status: UserStatus::Active,
            created_at: now,
        };
        let issued = new_token(self.secrets.as_ref(), &user, "initial", now);
        let audit =
            AuditEvent::system("user.create", "user", user.id, now).with_after(serde_json::json!({
                "username": username,
                "roles": user.roles,
                "token_prefix": issued.token.prefix.as_str(),
            }));
        match self
            .users
            .insert_user(&user, Some(issued.token.clone()), &audit)
            .await
        {
            Ok(()) => Ok((user, issued)),
            Err(StoreError::Conflict { .. }) => Err(Error::Conflict {
                field: Some("username".into()),
                message: format!("a user named '{username}' already exists"),
            }),
            Err(other) => Err(other.into()),
        }
    }
}

/// Issue another personal access token for an existing user (the `keyport admin create-token` command).
pub struct IssueAccessToken {
    users: Arc<dyn UserStore>,
    tokens: Arc<dyn AccessTokenStore>,
    clock: Arc<dyn Clock>,
    secrets: Arc<dyn SecretGenerator>,
}

impl IssueAccessToken {
    pub fn new(
        users: Arc<dyn UserStore>,
        tokens: Arc<dyn AccessTokenStore>,
        clock: Arc<dyn Clock>,
        secrets: Arc<dyn SecretGenerator>,
    ) -> Self {
        Self {
            users,
            tokens,
            clock,
            secrets,
        }
    }

    pub async fn execute(&self, username: &str, token_name: &str) -> Result<IssuedToken, Error> {
        let user = self
            .users
            .find_user_by_username(username.trim())
            .await?
            .ok_or(Error::NotFound { entity: "user" })?;
        let now = self.clock.now();
        let issued = new_token(self.secrets.as_ref(), &user, token_name, now);
        let audit = AuditEvent::system("access_token.create", "access_token", issued.token.id, now)
            .with_after(
                serde_json::json!({"user_id": user.id, "prefix": issued.token.prefix.as_str()}),
            );
        self.tokens
            .insert_access_token(&issued.token, &audit)
            .await?;
        Ok(issued)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::*;
    use crate::users::MockUserStore;
    use crate::ConflictKind;

    #[tokio::test]
    async fn a_new_user_gets_a_token_whose_hash_alone_is_stored() {
        let mut users = MockUserStore::new();
        users
            .expect_insert_user()
            .times(1)
            .withf(|u, t, a| {
                let t = t.as_ref().unwrap();
                u.username == "alice"
                    && u.is_admin()
                    && t.user_id == u.id
                    && a.action == "user.create"
                    && !a.after.as_ref().unwrap().to_string().contains(
                        &Secret::from_random(SecretKind::AccessToken, &RANDOM).expose()[7..],
                    )
            })
            .returning(|_, _, _| Ok(()));
        let (user, issued) = CreateUser::new(Arc::new(users), fixed_clock(), fixed_secrets())
            .execute(CreateUserRequest {
                username: " alice ".into(),
                email: None,
                admin: true,
            })
            .await
            .unwrap();
        assert_eq!(user.username, "alice");
        assert!(issued.secret.expose().starts_with("kp_pat_"));
        assert_eq!(issued.token.hash, issued.secret.hash());
    }

    #[tokio::test]
    async fn a_taken_username_is_a_conflict_and_a_bad_one_is_invalid() {
        let mut users = MockUserStore::new();
        users
            .expect_insert_user()
            .times(1)
            .returning(|_, _, _| Err(StoreError::Conflict(ConflictKind::UsernameTaken)));
        let uc = CreateUser::new(Arc::new(users), fixed_clock(), fixed_secrets());
        let err = uc
            .execute(CreateUserRequest {
                username: "alice".into(),
                email: None,
                admin: false,
            })
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Conflict { field: Some(ref f), .. } if f == "username"));
        let err = uc
            .execute(CreateUserRequest {
                username: "a b".into(),
                email: None,
                admin: false,
            })
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Invalid(ref f) if f[0].field == "username"));
    }
}
