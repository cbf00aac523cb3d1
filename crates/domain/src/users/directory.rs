use crate::paging::{page_size, paginate, Page};

use crate::ids::UserId;
use crate::paging::parse_opt;
use crate::users::{Actor, Role, User, UserStatus};
use crate::users::{UserDirectory, UserOverview, UserQuery};
use crate::{Error, FieldError};
use std::sync::Arc;

/// The longest search text.
pub const MAX_SEARCH_LEN: usize = 100;

/// What an administrator or auditor asks of the user directory; every filter is optional.
#[derive(Debug, Clone, Default)]
pub struct ListUsersRequest {
    /// Matched anywhere in username, email and display name, case-insensitively.
    pub q: Option<String>,
    pub role: Option<String>,
    pub status: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

/// The user directory, searched and paged by username. Administrators and auditors only.
pub struct ListUsers {
    users: Arc<dyn UserDirectory>,
}

impl ListUsers {
    pub fn new(users: Arc<dyn UserDirectory>) -> Self {
        Self { users }
    }

    pub async fn execute(
        &self,
        actor: &Actor,
        request: ListUsersRequest,
    ) -> Result<Page<User>, Error> {
        actor.require_oversight("the user directory")?;
        let mut errors = Vec::new();
        // Counted as sent (the documented maximum), searched trimmed; never a control character.
        if request
            .q
            .as_ref()
            .is_some_and(|q| q.chars().count() > MAX_SEARCH_LEN || q.chars().any(char::is_control))
        {
            errors.push(FieldError::new(
                "q",
                format!("at most {MAX_SEARCH_LEN} characters, none of them control characters"),
            ));
        }
        let text = request
            .q
            .map(|q| q.trim().to_owned())
            .filter(|q| !q.is_empty());
        let role = parse_opt(
            request.role,
            "role",
            Role::parse,
            "admin, auditor or user",
            &mut errors,
        );
        let status = parse_opt(
            request.status,
            "status",
            UserStatus::parse,
            "active or suspended",
            &mut errors,
        );
        let after = request
            .cursor
            .map(|c| decode_username_cursor(&c))
            .transpose()
            .map_err(|e| errors.push(e))
            .ok()
            .flatten();
        let limit = page_size(request.limit)
            .map_err(|e| errors.push(e))
            .unwrap_or_default();
        if !errors.is_empty() {
            return Err(Error::Invalid(errors));
        }
        let users = self
            .users
            .search_users(&UserQuery {
                text,
                role,
                status,
                after,
                limit: limit + 1,
            })
            .await?;
        Ok(paginate(users, limit, |u| hex::encode(&u.username)))
    }
}

/// One user with the number of their keys and subscriptions. Administrators and auditors only.
pub struct GetUser {
    users: Arc<dyn UserDirectory>,
}

impl GetUser {
    pub fn new(users: Arc<dyn UserDirectory>) -> Self {
        Self { users }
    }

    pub async fn execute(&self, actor: &Actor, id: UserId) -> Result<UserOverview, Error> {
        actor.require_oversight("users")?;
        self.users
            .user_overview(id)
            .await?
            .ok_or(Error::NotFound { entity: "user" })
    }
}

fn decode_username_cursor(cursor: &str) -> Result<String, FieldError> {
    hex::decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        // A username never holds a control character (and PostgreSQL text cannot hold NUL).
        .filter(|name| !name.is_empty() && !name.chars().any(char::is_control))
        .ok_or_else(|| FieldError::new("cursor", "not a cursor from a previous page"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::*;
    use crate::paging::DEFAULT_PAGE_SIZE;
    use crate::users::MockUserDirectory;

    fn user(name: &str) -> User {
        User {
            id: UserId::new(),
            username: name.into(),
            email: None,
            display_name: None,
            roles: vec![Role::User],
            status: UserStatus::Active,
            created_at: now(),
        }
    }

    fn auditor() -> Actor {
        let mut actor = bob();
        actor.roles.push(Role::Auditor);
        actor
    }

    #[tokio::test]
    async fn a_full_page_has_a_cursor_that_continues_after_its_last_username() {
        let mut users = MockUserDirectory::new();
        users
            .expect_search_users()
            .times(1)
            .withf(|q| {
                q.limit == 3
                    && q.text.as_deref() == Some("ali")
                    && q.role == Some(Role::Admin)
                    && q.status == Some(UserStatus::Active)
                    && q.after.is_none()
            })
            .returning(|_| Ok(vec![user("a1"), user("a2"), user("a3")]));
        users
            .expect_search_users()
            .times(1)
            .withf(|q| q.after.as_deref() == Some("a2") && q.limit == DEFAULT_PAGE_SIZE + 1)
            .returning(|_| Ok(vec![user("a3")]));
        let uc = ListUsers::new(Arc::new(users));
        let page = uc
            .execute(
                &auditor(),
                ListUsersRequest {
                    q: Some("  ali ".into()),
                    role: Some("admin".into()),
                    status: Some("active".into()),
                    cursor: None,
                    limit: Some(2),
                },
            )
            .await
            .unwrap();
        assert_eq!(page.items.len(), 2);
        let cursor = page.next_cursor.unwrap();
        let last = uc
            .execute(
                &admin(),
                ListUsersRequest {
                    cursor: Some(cursor),
                    ..ListUsersRequest::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(last.items.len(), 1);
        assert_eq!(last.next_cursor, None);
    }

    #[tokio::test]
    async fn bad_filters_are_named_and_a_plain_user_may_not_list() {
        let mut users = MockUserDirectory::new();
        users.expect_search_users().never();
        let uc = ListUsers::new(Arc::new(users));
        let err = uc
            .execute(
                &admin(),
                ListUsersRequest {
                    q: Some("x".repeat(101)),
                    role: Some("root".into()),
                    status: Some("gone".into()),
                    cursor: Some("zz".into()),
                    limit: Some(0),
                },
            )
            .await
            .unwrap_err();
        let Error::Invalid(errors) = err else {
            panic!("{err:?}")
        };
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["q", "role", "status", "cursor", "limit"]);
        assert!(matches!(
            uc.execute(&alice(), ListUsersRequest::default())
                .await
                .unwrap_err(),
            Error::Forbidden(_)
        ));
    }

    #[tokio::test]
    async fn an_unknown_user_is_not_found() {
        let mut users = MockUserDirectory::new();
        users.expect_user_overview().returning(|_| Ok(None));
        let err = GetUser::new(Arc::new(users))
            .execute(&auditor(), UserId::new())
            .await
            .unwrap_err();
        assert_eq!(err, Error::NotFound { entity: "user" });
    }
}
