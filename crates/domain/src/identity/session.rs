//! Browser sessions and the server-side state of an OIDC login.
//!
//! A session is an opaque random id ([`SecretKind::Session`]) held by the browser in an HttpOnly cookie;
//! keyport stores only its SHA-256, so a copy of the database cannot be turned into a working cookie. A
//! session ends at the first of: logout, its absolute deadline, or `idle` without a request. Its CSRF token
//! is derived from the id ([`Secret::derive`]), so it needs no storage and cannot be guessed without the
//! cookie.
//!
//! A login in progress (the OIDC `state`, nonce and PKCE verifier) lives in PostgreSQL too, keyed by the
//! hash of the state, so that any replica can finish a login another one started, and each state can be
//! used once.

use crate::audit::AuditEvent;
use crate::error::StoreError;
use crate::ids::UserId;
use crate::secret::{KeyHash, Secret};
use crate::users::User;
use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};

/// The label under which a session's CSRF token is derived from its id.
pub const CSRF_LABEL: &str = "keyport-csrf";

/// How often a session's `last_seen_at` is written at most (reads stay cheap; the idle timeout is this coarse).
pub const LAST_SEEN_RESOLUTION: TimeDelta = TimeDelta::seconds(60);

/// Where a request came from, for the session record and the audit log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientInfo {
    pub addr: Option<String>,
    pub user_agent: Option<String>,
    /// keyport's id of the request.
    pub request_id: Option<String>,
    /// The `x-request-id` the client sent, if any.
    pub client_request_id: Option<String>,
}

/// How a session was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionOrigin {
    /// Through the organisation's identity provider.
    Oidc,
    /// Through the development login (`KEYPORT_DEV_LOGIN=true`).
    Development,
}

impl SessionOrigin {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Oidc => "oidc",
            Self::Development => "development",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "oidc" => Some(Self::Oidc),
            "development" => Some(Self::Development),
            _ => None,
        }
    }
}

/// A session as stored (hash only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub hash: KeyHash,
    pub user_id: UserId,
    pub origin: SessionOrigin,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    /// The absolute deadline.
    pub expires_at: DateTime<Utc>,
    pub client_addr: Option<String>,
    pub user_agent: Option<String>,
    /// The provider's ID token, kept for RP-initiated logout (`id_token_hint`); `None` otherwise.
    pub id_token_hint: Option<String>,
}

/// How long sessions last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    /// A session unused this long ends.
    pub idle: TimeDelta,
    /// A session ends this long after it started, however busy.
    pub absolute: TimeDelta,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self {
            idle: TimeDelta::minutes(30),
            absolute: TimeDelta::hours(12),
        }
    }
}

/// A session just opened: the cookie value (shown to the browser once) and its CSRF token.
#[derive(Debug)]
pub struct IssuedSession {
    pub secret: Secret,
    pub csrf_token: String,
    pub expires_at: DateTime<Utc>,
    pub user: User,
}

/// A login in progress, between the redirect to the provider and its callback.
#[derive(Clone, PartialEq, Eq)]
pub struct LoginState {
    /// SHA-256 of the `state` parameter.
    pub state_hash: KeyHash,
    /// SHA-256 of the browser-binding secret, which only the browser that started the login holds (in
    /// its login cookie); the callback must present it (login CSRF, a leaked callback URL).
    pub browser_hash: KeyHash,
    pub nonce: String,
    pub pkce_verifier: String,
    /// A path on this keyport to return to after the login (always relative, checked on the way in).
    pub return_to: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl std::fmt::Debug for LoginState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginState")
            .field("state_hash", &self.state_hash)
            .field("return_to", &self.return_to)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Where sessions and logins in progress are kept.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Stores a new session with its audit event (`session.start`), in one transaction.
    async fn insert_session(&self, session: &Session, audit: &AuditEvent)
        -> Result<(), StoreError>;
    /// The live session with this hash and its user: not ended, `now` before `expires_at`, and last seen
    /// less than `idle` ago. Records the use in `last_seen_at` at most once per [`LAST_SEEN_RESOLUTION`].
    async fn find_live_session(
        &self,
        hash: &KeyHash,
        now: DateTime<Utc>,
        idle: TimeDelta,
    ) -> Result<Option<(Session, User)>, StoreError>;
    /// Ends the session (logout) with its audit event; ending an unknown or ended session is `Ok(None)`
    /// and writes nothing. Answers the session that ended.
    async fn end_session(
        &self,
        hash: &KeyHash,
        at: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<Option<Session>, StoreError>;
    /// Ends every live session of a user (suspension, role change); answers how many ended.
    async fn end_user_sessions(&self, user: UserId, at: DateTime<Utc>) -> Result<u64, StoreError>;
    /// Stores a login in progress.
    async fn insert_login_state(&self, state: &LoginState) -> Result<(), StoreError>;
    /// Takes (reads and deletes, atomically) the login state with this hash if it has not expired at
    /// `now`: a state can be used once, even by two replicas at the same time.
    async fn take_login_state(
        &self,
        hash: &KeyHash,
        now: DateTime<Utc>,
    ) -> Result<Option<LoginState>, StoreError>;
    /// Deletes ended and expired sessions and expired login states; answers how many rows went.
    async fn purge_expired(&self, now: DateTime<Utc>, idle: TimeDelta) -> Result<u64, StoreError>;
}
