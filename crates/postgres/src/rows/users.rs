//! The rows of users: `UserRow` read, `NewUserRow` inserted.

use super::columns::strings;
use crate::error::corrupt;
use crate::schema::users;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use keyport_domain::users::{Role, User, UserStatus};
use keyport_domain::StoreError;
use uuid::Uuid;

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = users, check_for_backend(diesel::pg::Pg))]
pub(crate) struct UserRow {
    pub id: Uuid,
    pub username: String,
    pub email: Option<String>,
    pub display_name: Option<String>,
    pub roles: Vec<Option<String>>,
    pub status: String,
    pub created_at: DateTime<Utc>,
}

impl TryFrom<UserRow> for User {
    type Error = StoreError;
    fn try_from(row: UserRow) -> Result<Self, StoreError> {
        let roles = strings(row.roles, "role")?
            .iter()
            .map(|r| Role::parse(r).ok_or_else(|| corrupt("role", r)))
            .collect::<Result<_, _>>()?;
        Ok(User {
            id: row.id.into(),
            username: row.username,
            email: row.email,
            display_name: row.display_name,
            roles,
            status: UserStatus::parse(&row.status)
                .ok_or_else(|| corrupt("user status", &row.status))?,
            created_at: row.created_at,
        })
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = users, check_for_backend(diesel::pg::Pg))]
pub(crate) struct NewUserRow<'a> {
    pub id: Uuid,
    pub username: &'a str,
    pub email: Option<&'a str>,
    pub display_name: Option<&'a str>,
    pub roles: Vec<Option<&'a str>>,
    pub status: &'a str,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl<'a> From<&'a User> for NewUserRow<'a> {
    fn from(user: &'a User) -> Self {
        Self {
            id: user.id.0,
            username: &user.username,
            email: user.email.as_deref(),
            display_name: user.display_name.as_deref(),
            roles: user.roles.iter().map(|r| Some(r.as_str())).collect(),
            status: user.status.as_str(),
            created_at: user.created_at,
            updated_at: user.created_at,
        }
    }
}
