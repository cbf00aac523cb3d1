//! What keyport needs to know to log in through a provider.

use std::fmt;
use std::time::Duration;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// How far the provider's clock and keyport's may disagree when checking `exp` and `iat`.
pub const DEFAULT_CLOCK_SKEW: Duration = Duration::from_secs(60);

/// The OAuth client secret keyport shares with the provider. Never printed: `Debug` is redacted, there is
/// no `Display`, and it is wiped from memory when dropped.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct ClientSecret(String);

impl ClientSecret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that authenticates to the token endpoint.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// Parses a client secret from configuration; an empty value is refused.
impl std::str::FromStr for ClientSecret {
    type Err = String;
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let value = value.trim();
        if value.is_empty() {
            Err("the OIDC client secret is empty".into())
        } else {
            Ok(Self(value.to_owned()))
        }
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecret(<redacted>)")
    }
}

/// One provider and keyport's client at it.
#[derive(Debug, Clone)]
pub struct OidcConfig {
    /// The issuer identifier, e.g. `https://keycloak.example/realms/acme`; discovery is read from
    /// `<issuer>/.well-known/openid-configuration`.
    pub issuer: String,
    pub client_id: String,
    /// `None` for a public client (PKCE alone); confidential clients are the norm for a server.
    pub client_secret: Option<ClientSecret>,
    /// keyport's callback, `<public URL>/api/v1/auth/callback`, registered at the provider.
    pub redirect_uri: String,
    /// Scopes asked for; `openid` is added when missing.
    pub scopes: Vec<String>,
    /// The ID token claim holding the groups (a dotted path reaches into nested objects).
    pub groups_claim: String,
    pub clock_skew: Duration,
    /// Timeout of each call to the provider.
    pub http_timeout: Duration,
}

impl OidcConfig {
    /// A configuration with the defaults: scopes `openid profile email`, groups in `groups`, 60 s of
    /// clock skew, 10 s per call.
    pub fn new(
        issuer: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: Option<ClientSecret>,
        redirect_uri: impl Into<String>,
    ) -> Self {
        Self {
            issuer: issuer.into(),
            client_id: client_id.into(),
            client_secret,
            redirect_uri: redirect_uri.into(),
            scopes: vec!["openid".into(), "profile".into(), "email".into()],
            groups_claim: "groups".into(),
            clock_skew: DEFAULT_CLOCK_SKEW,
            http_timeout: Duration::from_secs(10),
        }
    }
}
