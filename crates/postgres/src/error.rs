//! How database failures become the domain's [`StoreError`]s.

use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::pooled_connection::deadpool::PoolError;
use keyport_domain::{ConflictKind, StoreError};

/// A failure inside a transaction: either a database error (mapped when it happens) or a domain answer such
/// as `NotFound` that must roll the transaction back. diesel-async wants the error type of a transaction to
/// be `From<diesel::result::Error>`, which `StoreError` (a domain type) cannot be.
#[derive(Debug)]
pub(crate) struct Failure(pub(crate) StoreError);

impl From<DieselError> for Failure {
    fn from(value: DieselError) -> Self {
        Self(diesel_error(value))
    }
}

impl From<StoreError> for Failure {
    fn from(value: StoreError) -> Self {
        Self(value)
    }
}

impl From<Failure> for StoreError {
    fn from(value: Failure) -> Self {
        value.0
    }
}

/// Uniqueness violations become a `Conflict` of the kind their constraint stands for (see
/// [`conflict_kind`]); a missing referenced row is `NotFound`; a lost connection or an aborted serialisable
/// transaction is `Unavailable` (nothing was committed, the caller may retry); anything else, including a
/// CHECK violation, is a bug: `Unexpected`.
pub(crate) fn diesel_error(error: DieselError) -> StoreError {
    match error {
        DieselError::NotFound => StoreError::NotFound,
        DieselError::DatabaseError(kind, info) => match kind {
            DatabaseErrorKind::UniqueViolation => {
                StoreError::Conflict(conflict_kind(info.constraint_name().unwrap_or("unknown")))
            }
            DatabaseErrorKind::ForeignKeyViolation => StoreError::NotFound,
            DatabaseErrorKind::ClosedConnection
            | DatabaseErrorKind::UnableToSendCommand
            | DatabaseErrorKind::SerializationFailure => {
                StoreError::Unavailable(info.message().to_owned())
            }
            _ => StoreError::Unexpected(match info.constraint_name() {
                Some(constraint) => format!("{} ({constraint})", info.message()),
                None => info.message().to_owned(),
            }),
        },
        DieselError::BrokenTransactionManager => {
            StoreError::Unavailable("the connection's transaction state is broken".to_owned())
        }
        other => StoreError::Unexpected(other.to_string()),
    }
}

/// The one place where a unique constraint's name (see the migrations) becomes the domain's kind of
/// conflict. The domain tells apart only the rules a use case answers differently; any other constraint
/// is `Other`, named for the log.
pub(crate) fn conflict_kind(constraint: &str) -> ConflictKind {
    match constraint {
        "users_username" => ConflictKind::UsernameTaken,
        "users_issuer_subject" => ConflictKind::IdentityLinked,
        "subscriptions_user_model" => ConflictKind::AlreadySubscribed,
        "api_keys_live_name" => ConflictKind::KeyNameTaken,
        other => ConflictKind::Other(other.to_owned()),
    }
}

pub(crate) fn pool_error(error: PoolError) -> StoreError {
    StoreError::Unavailable(format!("no database connection: {error}"))
}

pub(crate) fn connection_error(error: diesel::ConnectionError) -> StoreError {
    StoreError::Unavailable(format!("cannot connect to the database: {error}"))
}

/// A stored value the domain refuses (an unknown status, a negative amount): the row is corrupt or the
/// schema and the code disagree.
pub(crate) fn corrupt(what: &str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::Unexpected(format!("stored {what} is invalid: {detail}"))
}
