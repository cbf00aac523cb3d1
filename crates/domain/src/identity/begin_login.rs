use crate::identity::{validate_return_to, AuthorizationRequest, IdentityProvider, LoginError};
use crate::identity::{LoginState, SessionStore};
use crate::runtime::{Clock, SecretGenerator};
use crate::secret::{Secret, SecretKind};
use chrono::TimeDelta;
use std::sync::Arc;

/// How long a login may take between the redirect to the provider and its callback.
pub const LOGIN_STATE_TTL: TimeDelta = TimeDelta::minutes(10);

/// Where to send the browser to log in, and the secret that browser must keep for the callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginRedirect {
    /// The provider's authorization URL.
    pub url: String,
    /// The browser-binding secret (`kp_login_…`): set in a short-lived HttpOnly cookie of the browser
    /// that asked, and required by the callback. Only its hash is stored.
    pub browser_binding: Secret,
}

/// Starts an OIDC login: a fresh `state`, nonce, PKCE verifier and browser-binding secret, kept in the
/// store (only the hashes of the state and of the binding) so that any replica can finish the login, and
/// the provider's authorization URL.
pub struct BeginLogin {
    provider: Arc<dyn IdentityProvider>,
    sessions: Arc<dyn SessionStore>,
    clock: Arc<dyn Clock>,
    secrets: Arc<dyn SecretGenerator>,
}

impl BeginLogin {
    pub fn new(
        provider: Arc<dyn IdentityProvider>,
        sessions: Arc<dyn SessionStore>,
        clock: Arc<dyn Clock>,
        secrets: Arc<dyn SecretGenerator>,
    ) -> Self {
        Self {
            provider,
            sessions,
            clock,
            secrets,
        }
    }

    /// `return_to`: a path on this keyport to land on afterwards (see [`validate_return_to`]).
    pub async fn execute(&self, return_to: Option<&str>) -> Result<LoginRedirect, LoginError> {
        let return_to = validate_return_to(return_to).map_err(crate::Error::from)?;
        let now = self.clock.now();
        let state = Secret::from_random(SecretKind::LoginState, &self.secrets.random_bytes());
        // 32 random bytes each, hex: 256 bits, and within PKCE's verifier alphabet and length (43..=128).
        let nonce = hex::encode(self.secrets.random_bytes());
        let pkce_verifier = hex::encode(self.secrets.random_bytes());
        let browser_binding =
            Secret::from_random(SecretKind::LoginBinding, &self.secrets.random_bytes());
        self.sessions
            .insert_login_state(&LoginState {
                state_hash: state.hash(),
                browser_hash: browser_binding.hash(),
                nonce: nonce.clone(),
                pkce_verifier: pkce_verifier.clone(),
                return_to,
                created_at: now,
                expires_at: now + LOGIN_STATE_TTL,
            })
            .await?;
        let url = self.provider.authorization_url(&AuthorizationRequest {
            state: state.expose().to_owned(),
            nonce,
            pkce_verifier,
        });
        Ok(LoginRedirect {
            url,
            browser_binding,
        })
    }

    /// Where to send the browser after keyport's logout so that the provider's session ends too
    /// (RP-initiated logout with the session's ID token as hint); `None` when the provider has no
    /// end-session endpoint.
    pub fn logout_url(&self, id_token_hint: Option<String>) -> Option<String> {
        self.provider.end_session_url(id_token_hint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{fixed_clock, now};
    use crate::identity::MockIdentityProvider;
    use crate::identity::MockSessionStore;
    use crate::runtime::MockSecretGenerator;
    use crate::{Error, StoreError};
    use std::sync::Mutex;

    fn counting_secrets() -> Arc<dyn SecretGenerator> {
        let mut secrets = MockSecretGenerator::new();
        let n = Mutex::new(0u8);
        secrets.expect_random_bytes().returning(move || {
            let mut n = n.lock().unwrap();
            *n += 1;
            [*n; 32]
        });
        Arc::new(secrets)
    }

    #[tokio::test]
    async fn a_login_stores_the_hashes_nonce_and_verifier_and_sends_them_to_the_provider() {
        let stored = Arc::new(Mutex::new(None::<LoginState>));
        let mut sessions = MockSessionStore::new();
        let sink = stored.clone();
        sessions
            .expect_insert_login_state()
            .times(1)
            .returning(move |s| {
                *sink.lock().unwrap() = Some(s.clone());
                Ok(())
            });
        let mut provider = MockIdentityProvider::new();
        provider
            .expect_authorization_url()
            .times(1)
            .returning(|r| format!("https://idp/auth?state={}&nonce={}", r.state, r.nonce));
        let begin = BeginLogin::new(
            Arc::new(provider),
            Arc::new(sessions),
            fixed_clock(),
            counting_secrets(),
        );

        let redirect = begin.execute(Some("/keys")).await.unwrap();

        let state = stored.lock().unwrap().clone().unwrap();
        let sent_state = Secret::from_random(SecretKind::LoginState, &[1; 32]);
        assert_eq!(state.state_hash, sent_state.hash());
        assert!(redirect.url.contains(sent_state.expose()));
        assert!(redirect.url.contains(&state.nonce));
        assert_eq!(state.nonce, hex::encode([2u8; 32]));
        assert_eq!(state.pkce_verifier, hex::encode([3u8; 32]));
        assert_ne!(state.nonce, state.pkce_verifier);
        assert_eq!(state.return_to, "/keys");
        assert_eq!(state.expires_at, now() + LOGIN_STATE_TTL);
        // The browser gets the binding secret; the store keeps only its hash, and the provider never
        // sees it.
        let binding = Secret::from_random(SecretKind::LoginBinding, &[4; 32]);
        assert_eq!(redirect.browser_binding, binding);
        assert!(redirect.browser_binding.expose().starts_with("kp_login_"));
        assert_eq!(state.browser_hash, binding.hash());
        assert_ne!(state.browser_hash, state.state_hash);
        assert!(!redirect.url.contains(binding.expose()));
        assert!(!format!("{state:?}").contains(binding.expose()));
    }

    #[tokio::test]
    async fn each_login_gets_a_binding_of_its_own() {
        let stored = Arc::new(Mutex::new(Vec::<LoginState>::new()));
        let mut sessions = MockSessionStore::new();
        let sink = stored.clone();
        sessions
            .expect_insert_login_state()
            .times(2)
            .returning(move |s| {
                sink.lock().unwrap().push(s.clone());
                Ok(())
            });
        let mut provider = MockIdentityProvider::new();
        provider
            .expect_authorization_url()
            .returning(|_| "https://idp/auth".into());
        let begin = BeginLogin::new(
            Arc::new(provider),
            Arc::new(sessions),
            fixed_clock(),
            counting_secrets(),
        );
        let first = begin.execute(None).await.unwrap();
        let second = begin.execute(None).await.unwrap();
        assert_ne!(first.browser_binding, second.browser_binding);
        let stored = stored.lock().unwrap();
        assert_eq!(stored[0].browser_hash, first.browser_binding.hash());
        assert_eq!(stored[1].browser_hash, second.browser_binding.hash());
    }

    #[tokio::test]
    async fn an_absolute_return_to_is_refused_before_anything_is_stored() {
        let mut sessions = MockSessionStore::new();
        sessions.expect_insert_login_state().never();
        let begin = BeginLogin::new(
            Arc::new(MockIdentityProvider::new()),
            Arc::new(sessions),
            fixed_clock(),
            counting_secrets(),
        );
        let err = begin
            .execute(Some("https://evil.example/"))
            .await
            .unwrap_err();
        match err {
            LoginError::Other(Error::Invalid(fields)) => assert_eq!(fields[0].field, "return_to"),
            other => panic!("expected an invalid return_to, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_database_outage_is_reported_as_such() {
        let mut sessions = MockSessionStore::new();
        sessions
            .expect_insert_login_state()
            .returning(|_| Err(StoreError::Unavailable("down".into())));
        let begin = BeginLogin::new(
            Arc::new(MockIdentityProvider::new()),
            Arc::new(sessions),
            fixed_clock(),
            counting_secrets(),
        );
        assert_eq!(
            begin.execute(None).await.unwrap_err(),
            LoginError::Other(Error::StoreUnavailable)
        );
    }
}
