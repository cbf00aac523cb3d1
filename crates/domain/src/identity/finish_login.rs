use crate::audit::AuditEvent;
use crate::gateway::{Gateway, GatewayUser};
use crate::identity::StartSession;
use crate::identity::{
    username_base, IdentityProvider, IdentityUsers, LoginError, ProfileUpdate, RoleMapping,
    VerifiedIdentity,
};
use crate::identity::{ClientInfo, IssuedSession, SessionOrigin, SessionStore};
use crate::ids::UserId;
use crate::runtime::Clock;
use crate::secret::{Secret, SecretKind};
use crate::users::{User, UserStatus};
use crate::{ConflictKind, StoreError};
use std::sync::Arc;

/// Numbered usernames tried (`alice-2` … `alice-9`) before a random suffix.
const NUMBERED_USERNAMES: u32 = 9;

/// The provider's redirect back to keyport (`/auth/callback?code=…&state=…` or `?error=…&state=…`), with
/// the browser-binding secret from the login cookie of the browser that follows it.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Callback {
    pub state: Option<String>,
    pub code: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
    /// The value of the login cookie (see [`crate::identity::LoginRedirect::browser_binding`]); `None`
    /// when the browser sent none.
    pub browser_binding: Option<String>,
}

impl std::fmt::Debug for Callback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Callback")
            .field("error", &self.error)
            .field("error_description", &self.error_description)
            .field("has_state", &self.state.is_some())
            .field("has_code", &self.code.is_some())
            .field("has_browser_binding", &self.browser_binding.is_some())
            .finish()
    }
}

/// A finished login: the new session (its user inside) and where the browser goes next.
#[derive(Debug)]
pub struct LoggedIn {
    pub session: IssuedSession,
    pub return_to: String,
    /// Whether this login created the user.
    pub created: bool,
}

/// Finishes an OIDC login: takes the login state once, exchanges the code, and finds the user by (issuer,
/// subject) — creating them on their first login, refreshing their profile (and roles, when they follow the
/// provider) on later ones — makes sure LiteLLM knows them, and opens their session (keeping the ID token
/// for the provider's logout).
pub struct FinishLogin {
    provider: Arc<dyn IdentityProvider>,
    sessions: Arc<dyn SessionStore>,
    users: Arc<dyn IdentityUsers>,
    gateway: Arc<dyn Gateway>,
    clock: Arc<dyn Clock>,
    start: Arc<StartSession>,
    mapping: RoleMapping,
}

impl FinishLogin {
    pub fn new(
        provider: Arc<dyn IdentityProvider>,
        sessions: Arc<dyn SessionStore>,
        users: Arc<dyn IdentityUsers>,
        gateway: Arc<dyn Gateway>,
        clock: Arc<dyn Clock>,
        start: Arc<StartSession>,
        mapping: RoleMapping,
    ) -> Self {
        Self {
            provider,
            sessions,
            users,
            gateway,
            clock,
            start,
            mapping,
        }
    }

    pub async fn execute(
        &self,
        callback: &Callback,
        client: &ClientInfo,
    ) -> Result<LoggedIn, LoginError> {
        let now = self.clock.now();
        // The state first, whatever else the callback says: it is what ties this browser to a login that
        // keyport started, and taking it makes it unusable a second time.
        let state = callback
            .state
            .as_deref()
            .and_then(|s| Secret::parse(SecretKind::LoginState, s).ok())
            .ok_or(LoginError::StateInvalid)?;
        let login = self
            .sessions
            .take_login_state(&state.hash(), now)
            .await?
            .ok_or(LoginError::StateInvalid)?;
        // Then the browser: only the one that started this login holds the secret whose hash was stored
        // with it. Checked after the state is taken, so that a refused callback cannot be tried again.
        let same_browser = callback
            .browser_binding
            .as_deref()
            .and_then(|b| Secret::parse(SecretKind::LoginBinding, b).ok())
            .is_some_and(|b| b.hash().ct_eq(&login.browser_hash));
        if !same_browser {
            return Err(LoginError::BrowserMismatch);
        }
        if let Some(error) = &callback.error {
            return Err(LoginError::Rejected(provider_error(
                error,
                callback.error_description.as_deref(),
            )));
        }
        let code = callback
            .code
            .as_deref()
            .filter(|c| !c.is_empty())
            .ok_or_else(|| LoginError::Rejected("the provider's answer has no code".into()))?;
        let identity = self
            .provider
            .exchange_code(code, &login.pkce_verifier, &login.nonce)
            .await?;
        if identity.issuer != self.provider.issuer() {
            return Err(LoginError::Rejected(
                "the ID token comes from another issuer".into(),
            ));
        }
        if !self.mapping.may_log_in(&identity.groups) {
            return Err(LoginError::Forbidden(
                "your account is not in a group allowed to use keyport; ask an administrator"
                    .into(),
            ));
        }
        let (user, created) = match self
            .users
            .find_by_identity(&identity.issuer, &identity.subject)
            .await?
        {
            Some(user) => (self.refresh(user, &identity, client).await?, false),
            None => self.provision(&identity, client).await?,
        };
        self.ensure_in_litellm(&user).await;
        let session = self
            .start
            .execute(
                user,
                SessionOrigin::Oidc,
                client.clone(),
                Some(identity.id_token),
            )
            .await?;
        Ok(LoggedIn {
            session,
            return_to: login.return_to,
            created,
        })
    }

    /// A returning user: refused when suspended; email, name (and roles when they follow the provider)
    /// refreshed when they changed.
    async fn refresh(
        &self,
        user: User,
        identity: &VerifiedIdentity,
        client: &ClientInfo,
    ) -> Result<User, LoginError> {
        if user.status == UserStatus::Suspended {
            return Err(LoginError::Forbidden(
                "your keyport account is suspended; ask an administrator".into(),
            ));
        }
        let roles = self
            .mapping
            .sync_roles
            .then(|| self.mapping.roles_for(&identity.groups))
            .filter(|roles| *roles != user.roles);
        let profile = ProfileUpdate {
            email: trusted_email(identity),
            display_name: identity.name.clone(),
            roles,
        };
        if profile.email == user.email
            && profile.display_name == user.display_name
            && profile.roles.is_none()
        {
            return Ok(user);
        }
        let now = self.clock.now();
        let audit = audit(client, user.id, "user.refresh_profile", now)
            .with_before(serde_json::json!({
                "email": user.email,
                "display_name": user.display_name,
                "roles": user.roles,
            }))
            .with_after(serde_json::json!({
                "email": profile.email,
                "display_name": profile.display_name,
                "roles": profile.roles.as_ref().unwrap_or(&user.roles),
            }));
        Ok(self
            .users
            .update_profile(user.id, &profile, now, &audit)
            .await?)
    }

    /// A first login: a new user linked to (issuer, subject), with a username of its own. Answers the user
    /// and whether this call created it (not when a concurrent first login of the same person won).
    async fn provision(
        &self,
        identity: &VerifiedIdentity,
        client: &ClientInfo,
    ) -> Result<(User, bool), LoginError> {
        let now = self.clock.now();
        let id = UserId::new();
        let base = username_base(identity);
        let random_suffix = id.0.simple().to_string();
        let candidates = std::iter::once(base.clone())
            .chain((2..=NUMBERED_USERNAMES).map(|n| format!("{base}-{n}")))
            .chain(std::iter::once(format!(
                "{base}-{}",
                random_suffix.get(24..).unwrap_or(&random_suffix)
            )));
        for username in candidates {
            let user = User {
                id,
                username,
                email: trusted_email(identity),
                display_name: identity.name.clone(),
                roles: self.mapping.roles_for(&identity.groups),
                status: UserStatus::Active,
                created_at: now,
            };
            let audit = audit(client, id, "user.create", now).with_after(serde_json::json!({
                "username": user.username,
                "roles": user.roles,
                "origin": "oidc",
                "issuer": identity.issuer,
                "subject": identity.subject,
            }));
            match self
                .users
                .insert_identity_user(&user, &identity.issuer, &identity.subject, &audit)
                .await
            {
                Ok(()) => return Ok((user, true)),
                Err(StoreError::Conflict(ConflictKind::UsernameTaken)) => continue,
                Err(StoreError::Conflict(ConflictKind::IdentityLinked)) => {
                    // Another request finished this person's first login meanwhile: theirs wins.
                    let user = self
                        .users
                        .find_by_identity(&identity.issuer, &identity.subject)
                        .await?
                        .ok_or_else(|| {
                            StoreError::Unexpected("identity conflict without a linked user".into())
                        })?;
                    return Ok((self.refresh(user, identity, client).await?, false));
                }
                Err(other) => return Err(other.into()),
            }
        }
        Err(LoginError::Other(crate::Error::Conflict {
            field: Some("username".into()),
            message: format!("no free username starting with '{base}'"),
        }))
    }

    /// LiteLLM must know the user before they create keys. A LiteLLM outage does not stop the login: the
    /// call is made again at the next login (it is idempotent), and key creation reports LiteLLM's state.
    async fn ensure_in_litellm(&self, user: &User) {
        let request = GatewayUser {
            user_id: user.id,
            email: user.email.clone(),
            alias: Some(user.username.clone()),
        };
        if let Err(error) = self.gateway.ensure_user(&request).await {
            tracing::warn!(user = %user.id, %error, "could not make sure LiteLLM has the user; logging in anyway, retried at the next login");
        }
    }
}

/// The email, unless the provider says it is not verified.
fn trusted_email(identity: &VerifiedIdentity) -> Option<String> {
    identity
        .email
        .clone()
        .filter(|e| !e.trim().is_empty())
        .filter(|_| identity.email_verified != Some(false))
}

fn audit(
    client: &ClientInfo,
    user: UserId,
    action: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> AuditEvent {
    let mut event = AuditEvent::system(action, "user", user, at);
    event.actor = Some(user);
    event.request_id = client.request_id.clone();
    event.client_addr = client.addr.clone();
    event.client_request_id = client.client_request_id.clone();
    event
}

/// The provider's `error` (and description) as a short, printable message: it comes from the query string.
fn provider_error(error: &str, description: Option<&str>) -> String {
    let clean = |s: &str| -> String { s.chars().filter(|c| !c.is_control()).take(200).collect() };
    match description {
        Some(d) => format!(
            "the identity provider answered '{}': {}",
            clean(error),
            clean(d)
        ),
        None => format!("the identity provider answered '{}'", clean(error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::GatewayError;
    use crate::fixtures::{fixed_clock, fixed_secrets, now};
    use crate::gateway::MockGateway;
    use crate::identity::{IdentityError, MockIdentityProvider, MockIdentityUsers};
    use crate::identity::{LoginState, MockSessionStore, Session, SessionPolicy};
    use crate::users::Role;
    use mockall::predicate::eq;
    use std::sync::Mutex;

    const ISSUER: &str = "https://idp.example";

    fn state_secret() -> Secret {
        Secret::from_random(SecretKind::LoginState, &[9; 32])
    }

    fn binding_secret() -> Secret {
        Secret::from_random(SecretKind::LoginBinding, &[8; 32])
    }

    fn callback() -> Callback {
        Callback {
            state: Some(state_secret().expose().to_owned()),
            code: Some("the-code".into()),
            browser_binding: Some(binding_secret().expose().to_owned()),
            ..Callback::default()
        }
    }

    fn client() -> ClientInfo {
        ClientInfo {
            addr: Some("192.0.2.7".into()),
            user_agent: Some("test".into()),
            request_id: Some("req-1".into()),
            client_request_id: Some("client-7".into()),
        }
    }

    fn login_state() -> LoginState {
        LoginState {
            state_hash: state_secret().hash(),
            browser_hash: binding_secret().hash(),
            nonce: "n-1".into(),
            pkce_verifier: "v-1".into(),
            return_to: "/keys".into(),
            created_at: now(),
            expires_at: now() + chrono::TimeDelta::minutes(10),
        }
    }

    fn sessions_with_state() -> MockSessionStore {
        let mut sessions = MockSessionStore::new();
        sessions
            .expect_take_login_state()
            .with(eq(state_secret().hash()), eq(now()))
            .times(1)
            .returning(|_, _| Ok(Some(login_state())));
        sessions
    }

    /// Opens sessions; each one stored is kept in `opened`.
    fn session_starter(opened: Arc<Mutex<Vec<Session>>>) -> Arc<StartSession> {
        let mut sessions = MockSessionStore::new();
        sessions.expect_insert_session().returning(move |s, _| {
            opened.lock().unwrap().push(s.clone());
            Ok(())
        });
        Arc::new(StartSession::new(
            Arc::new(sessions),
            fixed_clock(),
            fixed_secrets(),
            SessionPolicy::default(),
        ))
    }

    fn identity(subject: &str, groups: &[&str]) -> VerifiedIdentity {
        VerifiedIdentity {
            issuer: ISSUER.into(),
            subject: subject.into(),
            email: Some(format!("{subject}@example.test")),
            email_verified: Some(true),
            name: Some(format!("Name of {subject}")),
            preferred_username: Some(subject.into()),
            groups: groups.iter().map(|g| (*g).to_owned()).collect(),
            id_token: "header.payload.signature".into(),
        }
    }

    fn provider_answering(answer: Result<VerifiedIdentity, IdentityError>) -> MockIdentityProvider {
        let mut provider = MockIdentityProvider::new();
        provider.expect_issuer().returning(|| ISSUER.into());
        provider
            .expect_exchange_code()
            .with(eq("the-code"), eq("v-1"), eq("n-1"))
            .times(1)
            .returning(move |_, _, _| answer.clone());
        provider
    }

    fn gateway_ok() -> MockGateway {
        let mut gateway = MockGateway::new();
        gateway.expect_ensure_user().returning(|_| Ok(()));
        gateway
    }

    fn mapping() -> RoleMapping {
        RoleMapping {
            admin_groups: vec!["admins".into()],
            auditor_groups: vec!["auditors".into()],
            allowed_groups: None,
            sync_roles: true,
            ..RoleMapping::default()
        }
    }

    fn user(id: u128, username: &str, roles: Vec<Role>, status: UserStatus) -> User {
        User {
            id: UserId(uuid::Uuid::from_u128(id)),
            username: username.into(),
            email: Some(format!("{username}@example.test")),
            display_name: Some(format!("Name of {username}")),
            roles,
            status,
            created_at: now(),
        }
    }

    fn finish(
        provider: MockIdentityProvider,
        sessions: MockSessionStore,
        users: MockIdentityUsers,
        gateway: MockGateway,
        mapping: RoleMapping,
    ) -> FinishLogin {
        finish_opening(provider, sessions, users, gateway, mapping, Arc::default())
    }

    fn finish_opening(
        provider: MockIdentityProvider,
        sessions: MockSessionStore,
        users: MockIdentityUsers,
        gateway: MockGateway,
        mapping: RoleMapping,
        opened: Arc<Mutex<Vec<Session>>>,
    ) -> FinishLogin {
        FinishLogin::new(
            Arc::new(provider),
            Arc::new(sessions),
            Arc::new(users),
            Arc::new(gateway),
            fixed_clock(),
            session_starter(opened),
            mapping,
        )
    }

    /// The usual [`callback`] from the usual [`client`].
    async fn log_in(
        provider: MockIdentityProvider,
        sessions: MockSessionStore,
        users: MockIdentityUsers,
        gateway: MockGateway,
        mapping: RoleMapping,
    ) -> Result<LoggedIn, LoginError> {
        finish(provider, sessions, users, gateway, mapping)
            .execute(&callback(), &client())
            .await
    }

    /// A valid callback for which the provider vouches for `who`, under the usual [`mapping`].
    async fn log_in_as(
        who: VerifiedIdentity,
        users: MockIdentityUsers,
        gateway: MockGateway,
    ) -> Result<LoggedIn, LoginError> {
        log_in(
            provider_answering(Ok(who)),
            sessions_with_state(),
            users,
            gateway,
            mapping(),
        )
        .await
    }

    /// A valid callback whose code the provider will not exchange, failing with `error`.
    async fn exchange_failing(error: IdentityError) -> LoginError {
        log_in(
            provider_answering(Err(error)),
            sessions_with_state(),
            MockIdentityUsers::new(),
            MockGateway::new(),
            mapping(),
        )
        .await
        .unwrap_err()
    }

    /// Users in which the provider's identity is user 1, "alice", already known with these roles.
    fn known_alice(roles: Vec<Role>, status: UserStatus) -> MockIdentityUsers {
        let mut users = MockIdentityUsers::new();
        users
            .expect_find_by_identity()
            .returning(move |_, _| Ok(Some(user(1, "alice", roles.clone(), status))));
        users
    }

    /// A login that must refuse the callback before it asks the store for the login state.
    fn never_reaching_the_store() -> FinishLogin {
        let mut sessions = MockSessionStore::new();
        sessions.expect_take_login_state().never();
        finish(
            MockIdentityProvider::new(),
            sessions,
            MockIdentityUsers::new(),
            MockGateway::new(),
            mapping(),
        )
    }

    #[tokio::test]
    async fn a_first_login_creates_the_user_with_mapped_roles_and_creates_them_in_litellm() {
        let mut users = MockIdentityUsers::new();
        users
            .expect_find_by_identity()
            .with(eq(ISSUER), eq("root"))
            .returning(|_, _| Ok(None));
        let inserted = Arc::new(Mutex::new(None::<(User, AuditEvent)>));
        let sink = inserted.clone();
        users
            .expect_insert_identity_user()
            .withf(|_, issuer, subject, _| issuer == ISSUER && subject == "root")
            .times(1)
            .returning(move |u, _, _, a| {
                *sink.lock().unwrap() = Some((u.clone(), a.clone()));
                Ok(())
            });
        let mut gateway = MockGateway::new();
        gateway
            .expect_ensure_user()
            .withf(|u| {
                u.email.as_deref() == Some("root@example.test")
                    && u.alias.as_deref() == Some("root")
            })
            .times(1)
            .returning(|_| Ok(()));
        let opened = Arc::new(Mutex::new(Vec::new()));
        let logged_in = finish_opening(
            provider_answering(Ok(identity("root", &["admins", "users"]))),
            sessions_with_state(),
            users,
            gateway,
            mapping(),
            opened.clone(),
        )
        .execute(&callback(), &client())
        .await
        .unwrap();

        let (user, audit) = inserted.lock().unwrap().clone().unwrap();
        assert!(logged_in.created);
        assert_eq!(logged_in.session.user, user);
        assert_eq!(user.username, "root");
        assert_eq!(user.roles, vec![Role::User, Role::Admin]);
        assert_eq!(user.display_name.as_deref(), Some("Name of root"));
        assert_eq!(logged_in.return_to, "/keys");
        let opened = opened.lock().unwrap().clone();
        assert_eq!(opened.len(), 1);
        assert_eq!(opened[0].user_id, user.id);
        assert_eq!(opened[0].origin, SessionOrigin::Oidc);
        assert_eq!(
            opened[0].id_token_hint.as_deref(),
            Some("header.payload.signature")
        );
        assert_eq!(opened[0].hash, logged_in.session.secret.hash());
        assert_eq!(audit.action, "user.create");
        assert_eq!(audit.actor, Some(user.id));
        assert_eq!(audit.client_addr.as_deref(), Some("192.0.2.7"));
        assert_eq!(audit.request_id.as_deref(), Some("req-1"));
        assert_eq!(audit.client_request_id.as_deref(), Some("client-7"));
    }

    #[tokio::test]
    async fn a_taken_username_gets_a_suffix_and_is_never_linked_to_its_owner() {
        // Someone called "alice" exists (created by an admin, or from another issuer); the new
        // identity with preferred_username "alice" must get a user of its own.
        let mut users = MockIdentityUsers::new();
        users.expect_find_by_identity().returning(|_, _| Ok(None));
        let tried = Arc::new(Mutex::new(Vec::<(String, UserId)>::new()));
        let sink = tried.clone();
        users
            .expect_insert_identity_user()
            .times(3)
            .returning(move |u, _, _, _| {
                sink.lock().unwrap().push((u.username.clone(), u.id));
                if u.username == "alice" || u.username == "alice-2" {
                    Err(StoreError::Conflict(ConflictKind::UsernameTaken))
                } else {
                    Ok(())
                }
            });
        users.expect_update_profile().never();
        let logged_in = log_in_as(identity("alice", &[]), users, gateway_ok())
            .await
            .unwrap();

        let tried = tried.lock().unwrap().clone();
        let names: Vec<&str> = tried.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["alice", "alice-2", "alice-3"]);
        assert_eq!(logged_in.session.user.username, "alice-3");
        assert!(logged_in.created);
        // Every attempt is the same new user, never an existing one.
        assert!(tried.iter().all(|(_, id)| *id == logged_in.session.user.id));
    }

    #[tokio::test]
    async fn a_returning_user_is_found_by_issuer_and_subject_and_roles_follow_the_provider() {
        let mut users = MockIdentityUsers::new();
        users
            .expect_find_by_identity()
            .with(eq(ISSUER), eq("alice"))
            .returning(|_, _| {
                Ok(Some(user(
                    1,
                    "alice",
                    vec![Role::User, Role::Admin],
                    UserStatus::Active,
                )))
            });
        users.expect_insert_identity_user().never();
        users
            .expect_update_profile()
            .withf(|id, p, _, a| {
                *id == UserId(uuid::Uuid::from_u128(1))
                    && p.roles == Some(vec![Role::User])
                    && a.action == "user.refresh_profile"
            })
            .times(1)
            .returning(|_, _, _, _| Ok(user(1, "alice", vec![Role::User], UserStatus::Active)));
        let logged_in = log_in_as(identity("alice", &["users"]), users, gateway_ok())
            .await
            .unwrap();
        assert!(!logged_in.created);
        assert_eq!(logged_in.session.user.roles, vec![Role::User]);
    }

    #[tokio::test]
    async fn an_unchanged_returning_user_writes_nothing_and_roles_stay_when_not_synced() {
        let mut users = known_alice(vec![Role::User, Role::Admin], UserStatus::Active);
        users.expect_update_profile().never();
        let logged_in = log_in(
            provider_answering(Ok(identity("alice", &["users"]))),
            sessions_with_state(),
            users,
            gateway_ok(),
            RoleMapping {
                sync_roles: false,
                ..mapping()
            },
        )
        .await
        .unwrap();
        assert_eq!(logged_in.session.user.roles, vec![Role::User, Role::Admin]);
    }

    #[tokio::test]
    async fn a_suspended_user_cannot_log_in() {
        let mut users = known_alice(vec![Role::User], UserStatus::Suspended);
        users.expect_update_profile().never();
        let mut gateway = MockGateway::new();
        gateway.expect_ensure_user().never();
        let err = log_in_as(identity("alice", &[]), users, gateway)
            .await
            .unwrap_err();
        assert!(
            matches!(err, LoginError::Forbidden(ref m) if m.contains("suspended")),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn someone_outside_the_allowed_groups_is_refused_and_not_created() {
        let mut users = MockIdentityUsers::new();
        users.expect_find_by_identity().never();
        users.expect_insert_identity_user().never();
        let err = log_in(
            provider_answering(Ok(identity("eve", &["contractors"]))),
            sessions_with_state(),
            users,
            MockGateway::new(),
            RoleMapping {
                allowed_groups: Some(vec!["users".into(), "admins".into()]),
                ..mapping()
            },
        )
        .await
        .unwrap_err();
        assert!(matches!(err, LoginError::Forbidden(_)), "{err:?}");
    }

    #[tokio::test]
    async fn litellm_being_down_does_not_stop_the_login() {
        let mut users = MockIdentityUsers::new();
        users.expect_find_by_identity().returning(|_, _| Ok(None));
        users
            .expect_insert_identity_user()
            .times(1)
            .returning(|_, _, _, _| Ok(()));
        let mut gateway = MockGateway::new();
        gateway
            .expect_ensure_user()
            .times(1)
            .returning(|_| Err(GatewayError::Unavailable("connection refused".into())));
        let logged_in = log_in_as(identity("alice", &[]), users, gateway)
            .await
            .unwrap();
        assert_eq!(logged_in.session.user.username, "alice");
    }

    #[tokio::test]
    async fn an_unknown_used_or_expired_state_is_refused_before_the_code_is_exchanged() {
        let mut sessions = MockSessionStore::new();
        sessions
            .expect_take_login_state()
            .times(1)
            .returning(|_, _| Ok(None));
        let mut provider = MockIdentityProvider::new();
        provider.expect_exchange_code().never();
        let err = log_in(
            provider,
            sessions,
            MockIdentityUsers::new(),
            MockGateway::new(),
            mapping(),
        )
        .await
        .unwrap_err();
        assert_eq!(err, LoginError::StateInvalid);
    }

    #[tokio::test]
    async fn a_forged_state_is_refused_without_touching_the_store() {
        let login = never_reaching_the_store();
        for state in [
            None,
            Some("kp_state_forged".to_owned()),
            Some(String::new()),
        ] {
            let err = login
                .execute(
                    &Callback {
                        state,
                        ..callback()
                    },
                    &client(),
                )
                .await
                .unwrap_err();
            assert_eq!(err, LoginError::StateInvalid);
        }
    }

    #[tokio::test]
    async fn a_callback_from_another_browser_uses_up_the_state_and_is_refused() {
        let other_browser = Secret::from_random(SecretKind::LoginBinding, &[7; 32]);
        for binding in [
            // No login cookie (login CSRF: the victim's browser never started this login).
            None,
            // Another browser's cookie (a leaked callback URL opened elsewhere).
            Some(other_browser.expose().to_owned()),
            // Not a binding at all, or the state itself.
            Some("kp_login_forged".to_owned()),
            Some(String::new()),
            Some(state_secret().expose().to_owned()),
            // The stored hash instead of the secret.
            Some(binding_secret().hash().as_str().to_owned()),
        ] {
            let mut provider = MockIdentityProvider::new();
            provider.expect_exchange_code().never();
            let mut users = MockIdentityUsers::new();
            users.expect_find_by_identity().never();
            let opened = Arc::new(Mutex::new(Vec::new()));
            let err = finish_opening(
                provider,
                // Taken exactly once: the state is used up by the refused callback.
                sessions_with_state(),
                users,
                MockGateway::new(),
                mapping(),
                opened.clone(),
            )
            .execute(
                &Callback {
                    browser_binding: binding.clone(),
                    ..callback()
                },
                &client(),
            )
            .await
            .unwrap_err();
            assert_eq!(err, LoginError::BrowserMismatch, "{binding:?}");
            assert!(opened.lock().unwrap().is_empty(), "{binding:?}");
        }
    }

    #[tokio::test]
    async fn a_forged_state_is_refused_as_such_whatever_the_binding() {
        let err = never_reaching_the_store()
            .execute(
                &Callback {
                    state: Some("kp_state_forged".into()),
                    browser_binding: None,
                    ..callback()
                },
                &client(),
            )
            .await
            .unwrap_err();
        assert_eq!(err, LoginError::StateInvalid);
    }

    #[test]
    fn a_callback_never_prints_its_secrets() {
        let printed = format!("{:?}", callback());
        assert!(!printed.contains(binding_secret().expose()), "{printed}");
        assert!(!printed.contains(state_secret().expose()), "{printed}");
        assert!(!printed.contains("the-code"), "{printed}");
    }

    #[tokio::test]
    async fn the_providers_error_consumes_the_state_and_is_a_rejection() {
        let mut provider = MockIdentityProvider::new();
        provider.expect_exchange_code().never();
        let err = finish(
            provider,
            sessions_with_state(),
            MockIdentityUsers::new(),
            MockGateway::new(),
            mapping(),
        )
        .execute(
            &Callback {
                code: None,
                error: Some("access_denied".into()),
                error_description: Some("End-User aborted\ninteraction".into()),
                ..callback()
            },
            &client(),
        )
        .await
        .unwrap_err();
        assert!(
            matches!(err, LoginError::Rejected(ref m) if m.contains("access_denied") && !m.contains('\n')),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn an_invalid_token_and_an_unreachable_provider_are_told_apart() {
        let err = exchange_failing(IdentityError::Rejected("audience".into())).await;
        assert_eq!(err, LoginError::Rejected("audience".into()));
        let err = exchange_failing(IdentityError::Unavailable("timeout".into())).await;
        assert_eq!(err, LoginError::ProviderUnavailable("timeout".into()));
    }

    #[tokio::test]
    async fn a_concurrent_first_login_uses_the_user_the_other_request_created() {
        let mut users = MockIdentityUsers::new();
        let calls = Mutex::new(0);
        users
            .expect_find_by_identity()
            .times(2)
            .returning(move |_, _| {
                let mut calls = calls.lock().unwrap();
                *calls += 1;
                Ok((*calls > 1).then(|| user(5, "alice", vec![Role::User], UserStatus::Active)))
            });
        users
            .expect_insert_identity_user()
            .times(1)
            .returning(|_, _, _, _| Err(StoreError::Conflict(ConflictKind::IdentityLinked)));
        let logged_in = log_in_as(identity("alice", &[]), users, gateway_ok())
            .await
            .unwrap();
        assert_eq!(logged_in.session.user.id, UserId(uuid::Uuid::from_u128(5)));
        assert!(!logged_in.created);
    }

    #[tokio::test]
    async fn an_unverified_email_is_not_kept() {
        let mut users = MockIdentityUsers::new();
        users.expect_find_by_identity().returning(|_, _| Ok(None));
        users
            .expect_insert_identity_user()
            .withf(|u, _, _, _| u.email.is_none())
            .times(1)
            .returning(|_, _, _, _| Ok(()));
        let mut unverified = identity("mallory", &[]);
        unverified.email_verified = Some(false);
        unverified.preferred_username = None;
        let logged_in = log_in_as(unverified, users, gateway_ok()).await.unwrap();
        // The username still comes from the email when nothing better is given, but it is only a name.
        assert_eq!(logged_in.session.user.username, "mallory@example.test");
        assert_eq!(logged_in.session.user.email, None);
    }
}
