//! People who use keyport.

use crate::ids::UserId;
use crate::Error;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What a user may do. A user holds one or more roles; `User` is implied for everyone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Auditor,
    User,
}

impl Role {
    /// Every value, in the order the API documents them.
    pub const ALL: [Role; 3] = [Role::Admin, Role::Auditor, Role::User];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Auditor => "auditor",
            Self::User => "user",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "admin" => Some(Self::Admin),
            "auditor" => Some(Self::Auditor),
            "user" => Some(Self::User),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UserStatus {
    Active,
    Suspended,
}

impl UserStatus {
    /// Every value, in the order the API documents them.
    pub const ALL: [UserStatus; 2] = [UserStatus::Active, UserStatus::Suspended];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Suspended => "suspended",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "active" => Some(Self::Active),
            "suspended" => Some(Self::Suspended),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub username: String,
    pub email: Option<String>,
    pub display_name: Option<String>,
    pub roles: Vec<Role>,
    pub status: UserStatus,
    pub created_at: DateTime<Utc>,
}

impl User {
    pub fn is_admin(&self) -> bool {
        self.roles.contains(&Role::Admin)
    }

    pub fn is_auditor(&self) -> bool {
        self.roles.contains(&Role::Auditor)
    }

    /// Whether the user may see what administrators see (admins and auditors; auditors only read).
    pub fn can_oversee(&self) -> bool {
        self.is_admin() || self.is_auditor()
    }
}

/// A set of roles as stored: `user` always first, then `admin` and `auditor` when held, without repeats.
pub fn normalize_roles(roles: &[Role]) -> Vec<Role> {
    let mut out = vec![Role::User];
    for role in [Role::Admin, Role::Auditor] {
        if roles.contains(&role) {
            out.push(role);
        }
    }
    out
}

/// A username: 1 to 64 characters of letters, digits, `.`, `_`, `-` and `@`.
pub fn validate_username(value: &str) -> Result<String, crate::FieldError> {
    let value = value.trim();
    let ok = !value.is_empty()
        && value.len() <= 64
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if ok {
        Ok(value.to_owned())
    } else {
        Err(crate::FieldError::new(
            "username",
            "1 to 64 characters: letters, digits, '.', '_', '-' or '@'",
        ))
    }
}

/// Who is acting: the authenticated user behind a request or a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub user_id: UserId,
    pub roles: Vec<Role>,
    /// keyport's id of the request, carried into the audit log.
    pub request_id: Option<String>,
    /// The client's address, carried into the audit log.
    pub client_addr: Option<String>,
    /// The `x-request-id` the client sent, carried into the audit log apart from keyport's id.
    pub client_request_id: Option<String>,
}

impl Actor {
    pub fn user(user_id: UserId) -> Self {
        Self {
            user_id,
            roles: vec![Role::User],
            request_id: None,
            client_addr: None,
            client_request_id: None,
        }
    }

    pub fn is_admin(&self) -> bool {
        self.roles.contains(&Role::Admin)
    }

    pub fn is_auditor(&self) -> bool {
        self.roles.contains(&Role::Auditor)
    }

    /// Whether the actor may see what administrators see (admins and auditors; auditors only read).
    pub fn can_oversee(&self) -> bool {
        self.is_admin() || self.is_auditor()
    }

    /// Refuses anyone but administrators and auditors: `what` completes "only administrators and auditors
    /// see …".
    pub fn require_oversight(&self, what: &str) -> Result<(), Error> {
        if self.can_oversee() {
            Ok(())
        } else {
            Err(Error::Forbidden(format!(
                "only administrators and auditors see {what}"
            )))
        }
    }

    /// Refuses anyone but administrators: `what` completes "only administrators …".
    pub fn require_admin(&self, what: &str) -> Result<(), Error> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(Error::Forbidden(format!("only administrators {what}")))
        }
    }
}
