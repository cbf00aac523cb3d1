//! Browser sessions: opening one after a login, recognising it on each request, ending it at logout.

use crate::audit::AuditEvent;
use crate::identity::{
    ClientInfo, IssuedSession, Session, SessionOrigin, SessionPolicy, SessionStore, CSRF_LABEL,
};
use crate::runtime::{Clock, SecretGenerator};
use crate::secret::{Secret, SecretKind};
use crate::users::{Actor, User, UserStatus};
use crate::Error;
use std::sync::Arc;

/// Longest user agent kept with a session.
const MAX_USER_AGENT: usize = 256;

/// Opens a session for a user who has just logged in (through the identity provider or the development
/// login): a new random id for the cookie, only its hash stored, with a `session.start` audit event.
pub struct StartSession {
    sessions: Arc<dyn SessionStore>,
    clock: Arc<dyn Clock>,
    secrets: Arc<dyn SecretGenerator>,
    policy: SessionPolicy,
}

impl StartSession {
    pub fn new(
        sessions: Arc<dyn SessionStore>,
        clock: Arc<dyn Clock>,
        secrets: Arc<dyn SecretGenerator>,
        policy: SessionPolicy,
    ) -> Self {
        Self {
            sessions,
            clock,
            secrets,
            policy,
        }
    }

    pub fn policy(&self) -> SessionPolicy {
        self.policy
    }

    pub async fn execute(
        &self,
        user: User,
        origin: SessionOrigin,
        client: ClientInfo,
        id_token_hint: Option<String>,
    ) -> Result<IssuedSession, Error> {
        if user.status != UserStatus::Active {
            return Err(Error::Forbidden(format!(
                "the account '{}' is suspended",
                user.username
            )));
        }
        let now = self.clock.now();
        let secret = Secret::from_random(SecretKind::Session, &self.secrets.random_bytes());
        let session = Session {
            hash: secret.hash(),
            user_id: user.id,
            origin,
            created_at: now,
            last_seen_at: now,
            expires_at: now + self.policy.absolute,
            client_addr: client.addr.clone(),
            user_agent: client
                .user_agent
                .as_ref()
                .map(|ua| ua.chars().take(MAX_USER_AGENT).collect()),
            id_token_hint,
        };
        let actor = Actor {
            user_id: user.id,
            roles: user.roles.clone(),
            request_id: client.request_id,
            client_addr: client.addr,
            client_request_id: client.client_request_id,
        };
        // The target is the start of the session's hash: enough to tell sessions apart in the log, useless
        // as a credential.
        let audit = AuditEvent::by(
            &actor,
            "session.start",
            "session",
            &session.hash.as_str()[..12],
            now,
        )
        .with_after(serde_json::json!({
            "origin": origin.as_str(),
            "expires_at": session.expires_at,
        }));
        self.sessions.insert_session(&session, &audit).await?;
        Ok(IssuedSession {
            csrf_token: secret.derive(CSRF_LABEL),
            secret,
            expires_at: session.expires_at,
            user,
        })
    }
}

/// A recognised session: who is behind it, and what its CSRF token is.
#[derive(Debug, Clone)]
pub struct SessionCaller {
    pub actor: Actor,
    pub user: User,
    pub csrf_token: String,
    pub session: Session,
}

/// Recognises the session cookie of a request. Malformed values never reach the store; unknown, ended,
/// idle or expired sessions, and sessions of suspended users, are all "unauthenticated".
pub struct AuthenticateSession {
    sessions: Arc<dyn SessionStore>,
    clock: Arc<dyn Clock>,
    policy: SessionPolicy,
}

impl AuthenticateSession {
    pub fn new(
        sessions: Arc<dyn SessionStore>,
        clock: Arc<dyn Clock>,
        policy: SessionPolicy,
    ) -> Self {
        Self {
            sessions,
            clock,
            policy,
        }
    }

    pub async fn execute(&self, cookie: &str) -> Result<SessionCaller, Error> {
        let secret =
            Secret::parse(SecretKind::Session, cookie).map_err(|_| Error::Unauthenticated)?;
        let hash = secret.hash();
        let (session, user) = self
            .sessions
            .find_live_session(&hash, self.clock.now(), self.policy.idle)
            .await?
            .ok_or(Error::Unauthenticated)?;
        if !session.hash.ct_eq(&hash) || user.status != UserStatus::Active {
            return Err(Error::Unauthenticated);
        }
        Ok(SessionCaller {
            actor: Actor {
                user_id: user.id,
                roles: user.roles.clone(),
                request_id: None,
                client_addr: None,
                client_request_id: None,
            },
            user,
            csrf_token: secret.derive(CSRF_LABEL),
            session,
        })
    }
}

/// Ends the session of a request (logout). Ending a session that is already gone is not an error: the
/// browser's cookie is cleared either way. Answers the ended session (its ID token hint serves the
/// provider's logout).
pub struct EndSession {
    sessions: Arc<dyn SessionStore>,
    clock: Arc<dyn Clock>,
}

impl EndSession {
    pub fn new(sessions: Arc<dyn SessionStore>, clock: Arc<dyn Clock>) -> Self {
        Self { sessions, clock }
    }

    pub async fn execute(&self, actor: &Actor, cookie: &str) -> Result<Option<Session>, Error> {
        let Ok(secret) = Secret::parse(SecretKind::Session, cookie) else {
            return Ok(None);
        };
        let hash = secret.hash();
        let now = self.clock.now();
        let audit = AuditEvent::by(actor, "session.end", "session", &hash.as_str()[..12], now);
        Ok(self.sessions.end_session(&hash, now, &audit).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::*;
    use crate::identity::MockSessionStore;
    use crate::ids::UserId;
    use crate::secret::RANDOM_BYTES;
    use crate::users::Role;
    use chrono::TimeDelta;

    fn user(status: UserStatus) -> User {
        User {
            id: alice().user_id,
            username: "alice".into(),
            email: None,
            display_name: None,
            roles: vec![Role::User, Role::Auditor],
            status,
            created_at: now(),
        }
    }

    fn stored(user: UserId) -> Session {
        Session {
            hash: Secret::from_random(SecretKind::Session, &RANDOM).hash(),
            user_id: user,
            origin: SessionOrigin::Development,
            created_at: now(),
            last_seen_at: now(),
            expires_at: now() + TimeDelta::hours(12),
            client_addr: None,
            user_agent: None,
            id_token_hint: None,
        }
    }

    #[tokio::test]
    async fn a_session_stores_only_the_hash_and_derives_a_distinct_csrf_token() {
        let mut store = MockSessionStore::new();
        let expected = Secret::from_random(SecretKind::Session, &RANDOM);
        let hash = expected.hash();
        store
            .expect_insert_session()
            .times(1)
            .withf(move |s, audit| {
                s.hash == hash
                    && s.expires_at == now() + TimeDelta::hours(12)
                    && audit.action == "session.start"
                    && audit.actor == Some(alice().user_id)
                    && hash.as_str().starts_with(&audit.target_id)
                    && audit.target_id.len() == 12
            })
            .returning(|_, _| Ok(()));
        let uc = StartSession::new(
            Arc::new(store),
            fixed_clock(),
            fixed_secrets(),
            SessionPolicy::default(),
        );
        let issued = uc
            .execute(
                user(UserStatus::Active),
                SessionOrigin::Development,
                ClientInfo::default(),
                None,
            )
            .await
            .unwrap();
        assert_eq!(issued.secret.expose(), expected.expose());
        assert!(issued.secret.expose().starts_with("kp_sess_"));
        assert_eq!(issued.csrf_token.len(), 64);
        assert_ne!(issued.csrf_token, expected.hash().as_str());
        assert!(!issued.csrf_token.contains(expected.expose()));
    }

    #[tokio::test]
    async fn a_suspended_user_gets_no_session() {
        let mut store = MockSessionStore::new();
        store.expect_insert_session().never();
        let uc = StartSession::new(
            Arc::new(store),
            fixed_clock(),
            fixed_secrets(),
            SessionPolicy::default(),
        );
        let err = uc
            .execute(
                user(UserStatus::Suspended),
                SessionOrigin::Oidc,
                ClientInfo::default(),
                None,
            )
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Forbidden(_)));
    }

    #[tokio::test]
    async fn a_live_session_authenticates_with_the_users_current_roles() {
        let mut store = MockSessionStore::new();
        let idle = SessionPolicy::default().idle;
        store
            .expect_find_live_session()
            .times(1)
            .withf(move |_, at, i| *at == now() && *i == idle)
            .returning(|_, _, _| Ok(Some((stored(alice().user_id), user(UserStatus::Active)))));
        let uc = AuthenticateSession::new(Arc::new(store), fixed_clock(), SessionPolicy::default());
        let cookie = Secret::from_random(SecretKind::Session, &RANDOM);
        let caller = uc.execute(cookie.expose()).await.unwrap();
        assert_eq!(caller.actor.user_id, alice().user_id);
        assert!(caller.actor.can_oversee() && !caller.actor.is_admin());
        assert_eq!(caller.csrf_token, cookie.derive(CSRF_LABEL));
    }

    #[tokio::test]
    async fn malformed_unknown_and_suspended_sessions_are_unauthenticated() {
        let mut store = MockSessionStore::new();
        let mut answers = vec![
            Ok(None),
            Ok(Some((stored(alice().user_id), user(UserStatus::Suspended)))),
        ]
        .into_iter();
        store
            .expect_find_live_session()
            .times(2)
            .returning(move |_, _, _| answers.next().unwrap());
        let uc = AuthenticateSession::new(Arc::new(store), fixed_clock(), SessionPolicy::default());
        let cookie = Secret::from_random(SecretKind::Session, &RANDOM);
        let pat = Secret::from_random(SecretKind::AccessToken, &[1; RANDOM_BYTES]);
        for bad in ["", "kp_sess_nope", pat.expose()] {
            assert_eq!(uc.execute(bad).await.unwrap_err(), Error::Unauthenticated);
        }
        for _ in 0..2 {
            assert_eq!(
                uc.execute(cookie.expose()).await.unwrap_err(),
                Error::Unauthenticated
            );
        }
    }

    #[tokio::test]
    async fn logout_ends_the_session_with_an_audit_event_and_ignores_garbage() {
        let mut store = MockSessionStore::new();
        let cookie = Secret::from_random(SecretKind::Session, &RANDOM);
        let hash = cookie.hash();
        store
            .expect_end_session()
            .times(1)
            .withf(move |h, _, audit| *h == hash && audit.action == "session.end")
            .returning(|_, _, _| Ok(Some(stored(alice().user_id))));
        let uc = EndSession::new(Arc::new(store), fixed_clock());
        assert!(uc
            .execute(&alice(), cookie.expose())
            .await
            .unwrap()
            .is_some());
        assert!(uc.execute(&alice(), "garbage").await.unwrap().is_none());
    }
}
