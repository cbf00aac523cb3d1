//! The domain's errors: what a port may answer ([`StoreError`], [`GatewayError`]) and what a use case
//! answers ([`Error`]). The API layer maps [`Error`] to HTTP in one place.

use std::fmt;

/// A problem with one named input field, e.g. `limits.max_budget`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The same error, reported under a parent field (`max_budget` becomes `limits.max_budget`).
    pub fn nested(self, parent: &str) -> Self {
        Self {
            field: format!("{parent}.{}", self.field),
            message: self.message,
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl std::error::Error for FieldError {}

/// Which rule a store change broke when it answers [`StoreError::Conflict`]. The store adapter classifies
/// its own rules (in PostgreSQL: unique constraints, and the checks made under a lock) into these kinds, in
/// one place; use cases match on the kind and never see the adapter's names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConflictKind {
    /// Another user has that username.
    #[error("the username is taken")]
    UsernameTaken,
    /// The login identity (issuer, subject) is linked to a user already.
    #[error("the identity is linked to a user already")]
    IdentityLinked,
    /// The user already has a subscription to the model, whatever its status.
    #[error("the user already has a subscription to the model")]
    AlreadySubscribed,
    /// The user has a provisioning or active key of that name (names compare case-insensitively).
    #[error("the user has a live key of that name")]
    KeyNameTaken,
    /// The user holds as many provisioning and active keys as allowed.
    #[error("the user holds as many live keys as allowed")]
    LiveKeyCapReached,
    /// The change would leave no active administrator.
    #[error("no active administrator would remain")]
    LastActiveAdmin,
    /// A rule the domain does not tell apart (e.g. a key hash already known); the adapter's name for it is
    /// kept for the log.
    #[error("{0}")]
    Other(String),
}

/// What a store (database) port answers when it cannot do what was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule (or a rule checked under a lock) was violated; the kind says which.
    #[error("conflict: {0}")]
    Conflict(ConflictKind),
    /// The row that the operation needs does not exist (or is not in the state the operation expects).
    #[error("not found")]
    NotFound,
    /// The database could not be reached or the operation did not complete; nothing was committed.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Anything else; the message is for logs.
    #[error("database error: {0}")]
    Unexpected(String),
}

/// What the LiteLLM gateway port answers when a call fails. Adapters classify LiteLLM's answers into these.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GatewayError {
    /// LiteLLM answered that the key (or user) does not exist.
    #[error("not found in LiteLLM")]
    NotFound,
    /// LiteLLM refused because something with the same identity exists (e.g. a key alias).
    #[error("conflict in LiteLLM on {field}: {message}")]
    Conflict { field: String, message: String },
    /// LiteLLM rejected the request as invalid; `field` names the offending field when LiteLLM says.
    #[error("LiteLLM rejected {field:?}: {message}")]
    Invalid {
        field: Option<String>,
        message: String,
    },
    /// The master key was refused: a configuration problem on keyport's side.
    #[error("LiteLLM refused the master key")]
    Unauthorized,
    /// No answer, a timeout, a dropped connection or a 5xx: the outcome of a mutation is **uncertain** and
    /// the call may be retried once it has been checked.
    #[error("LiteLLM unavailable: {0}")]
    Unavailable(String),
    /// An answer keyport cannot make sense of.
    #[error("unexpected LiteLLM answer: {0}")]
    Unexpected(String),
}

impl GatewayError {
    /// Whether the outcome of a mutation that failed this way is unknown (it may have happened).
    pub fn is_uncertain(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

/// A use case's failure, in terms the API maps to a status and a stable problem type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// One or more inputs are invalid (422).
    #[error("invalid input: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
    /// The thing does not exist, or belongs to someone else (404: we do not tell the two apart).
    #[error("{entity} not found")]
    NotFound { entity: &'static str },
    /// The request conflicts with the current state (409), e.g. a name already in use.
    #[error("{message}")]
    Conflict {
        field: Option<String>,
        message: String,
    },
    /// The caller may not do this (403).
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// The caller is not authenticated (401).
    #[error("unauthenticated")]
    Unauthenticated,
    /// LiteLLM refused the change for certain; nothing is left behind (502).
    #[error("LiteLLM refused: {0}")]
    GatewayRejected(String),
    /// LiteLLM could not be reached; `settled` tells whether keyport knows the outcome (503).
    #[error("LiteLLM unavailable: {detail}")]
    GatewayUnavailable { detail: String },
    /// The database could not be reached (503).
    #[error("database unavailable")]
    StoreUnavailable,
    /// A bug or an unexpected answer; details are logged, not shown (500).
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid(vec![FieldError::new(field, message)])
    }
}

impl From<FieldError> for Error {
    fn from(value: FieldError) -> Self {
        Self::Invalid(vec![value])
    }
}

impl From<StoreError> for Error {
    fn from(value: StoreError) -> Self {
        match value {
            StoreError::NotFound => Self::NotFound { entity: "record" },
            StoreError::Conflict(kind) => Self::Conflict {
                field: None,
                message: format!("conflicts with an existing record ({kind})"),
            },
            StoreError::Unavailable(_) => Self::StoreUnavailable,
            StoreError::Unexpected(message) => Self::Internal(message),
        }
    }
}
