//! [`OidcProvider`]: discovery at start, the authorization URL, the code exchange and the end-session URL.

use crate::config::OidcConfig;
use crate::metadata::{secure_url, ProviderMetadata};
use crate::token::{self, Expectations, KeySet};
use async_trait::async_trait;
use base64::Engine;
use keyport_domain::identity::{
    AuthorizationRequest, IdentityError, IdentityProvider, VerifiedIdentity,
};
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::time::{Duration, Instant};
use tokio::sync::{Mutex, RwLock};
use url::Url;

/// A JWKS is fetched again for an unknown `kid` at most this often, so that a stream of bad tokens cannot
/// turn keyport into a load on the provider.
const JWKS_REFRESH_COOLDOWN: Duration = Duration::from_secs(10);

/// Why keyport could not start with this provider.
#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    #[error("the OIDC configuration is invalid: {0}")]
    Config(String),
    #[error("the identity provider at {url} is unreachable: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("the identity provider's metadata at {url} is unusable: {reason}")]
    Metadata { url: String, reason: String },
}

/// The organisation's OpenID Connect provider, discovered at start.
pub struct OidcProvider {
    config: OidcConfig,
    metadata: ProviderMetadata,
    http: reqwest::Client,
    keys: RwLock<KeySet>,
    last_forced_refresh: Mutex<Option<Instant>>,
}

impl std::fmt::Debug for OidcProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcProvider")
            .field("issuer", &self.metadata.issuer)
            .field("client_id", &self.config.client_id)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    id_token: Option<String>,
}

#[derive(Deserialize)]
struct OAuthError {
    error: String,
    error_description: Option<String>,
}

impl OidcProvider {
    /// Reads the provider's discovery document and JWKS and checks them. Fails when the provider cannot be
    /// reached, or its metadata names another issuer, insecure endpoints, no usable algorithm, or a JWKS
    /// without a usable key.
    pub async fn discover(config: OidcConfig) -> Result<Self, DiscoveryError> {
        secure_url(&config.issuer).map_err(DiscoveryError::Config)?;
        // The redirect URI is keyport's own address: http is the deployer's choice (e.g. behind a proxy
        // that terminates TLS), but it must be an absolute http(s) URL.
        match Url::parse(&config.redirect_uri) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => {}
            _ => {
                return Err(DiscoveryError::Config(format!(
                    "the redirect URI '{}' is not an absolute http(s) URL",
                    config.redirect_uri
                )))
            }
        }
        if config.client_id.trim().is_empty() {
            return Err(DiscoveryError::Config("the client id is empty".into()));
        }
        let http = reqwest::Client::builder()
            .timeout(config.http_timeout)
            .connect_timeout(config.http_timeout)
            .build()
            .map_err(|e| DiscoveryError::Config(format!("cannot build an HTTP client: {e}")))?;
        let url = format!(
            "{}/.well-known/openid-configuration",
            config.issuer.trim_end_matches('/')
        );
        let document = get_json(&http, &url).await?;
        let metadata: ProviderMetadata =
            serde_json::from_value(document).map_err(|e| DiscoveryError::Metadata {
                url: url.clone(),
                reason: e.to_string(),
            })?;
        metadata
            .validate(&config.issuer)
            .map_err(|reason| DiscoveryError::Metadata {
                url: url.clone(),
                reason,
            })?;
        let keys = fetch_keys(&http, &metadata.jwks_uri).await?;
        if keys.len() == 0 {
            return Err(DiscoveryError::Metadata {
                url: metadata.jwks_uri.clone(),
                reason: "the JWKS holds no signing key keyport can use (RSA, P-256 or Ed25519)"
                    .into(),
            });
        }
        tracing::info!(issuer = %metadata.issuer, keys = keys.len(), "identity provider discovered");
        Ok(Self {
            config,
            metadata,
            http,
            keys: RwLock::new(keys),
            last_forced_refresh: Mutex::new(None),
        })
    }

    pub fn metadata(&self) -> &ProviderMetadata {
        &self.metadata
    }

    /// Fetches the JWKS again, unless that was done for an unknown key less than the cooldown ago.
    async fn refresh_keys(&self) -> Result<bool, IdentityError> {
        let mut last = self.last_forced_refresh.lock().await;
        if last.is_some_and(|at| at.elapsed() < JWKS_REFRESH_COOLDOWN) {
            return Ok(false);
        }
        *last = Some(Instant::now());
        let keys = fetch_keys(&self.http, &self.metadata.jwks_uri)
            .await
            .map_err(|e| IdentityError::Unavailable(e.to_string()))?;
        tracing::info!(
            keys = keys.len(),
            "identity provider's JWKS fetched again for an unknown key"
        );
        *self.keys.write().await = keys;
        Ok(true)
    }

    async fn validate(
        &self,
        id_token: &str,
        nonce: &str,
    ) -> Result<VerifiedIdentity, IdentityError> {
        let expect = Expectations {
            issuer: &self.metadata.issuer,
            client_id: &self.config.client_id,
            nonce,
            clock_skew: self.config.clock_skew,
            groups_claim: &self.config.groups_claim,
        };
        let (alg, kid) = token::header(id_token).map_err(IdentityError::Rejected)?;
        if !self.keys.read().await.knows(kid.as_deref(), alg) {
            // A new key the provider rotated in since keyport last looked.
            self.refresh_keys().await?;
        }
        let keys = self.keys.read().await;
        token::validate(id_token, &keys, &expect).map_err(IdentityError::Rejected)
    }
}

async fn get_json(http: &reqwest::Client, url: &str) -> Result<Value, DiscoveryError> {
    let unreachable = |reason: String| DiscoveryError::Unreachable {
        url: url.to_owned(),
        reason,
    };
    let response = http
        .get(url)
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| unreachable(error_chain(&e)))?;
    let status = response.status();
    if !status.is_success() {
        return Err(unreachable(format!("it answered HTTP {status}")));
    }
    response.json().await.map_err(|e| DiscoveryError::Metadata {
        url: url.to_owned(),
        reason: format!("not JSON: {e}"),
    })
}

async fn fetch_keys(http: &reqwest::Client, jwks_uri: &str) -> Result<KeySet, DiscoveryError> {
    let document = get_json(http, jwks_uri).await?;
    KeySet::from_document(&document).map_err(|reason| DiscoveryError::Metadata {
        url: jwks_uri.to_owned(),
        reason,
    })
}

/// A reqwest error with its causes ("error sending request: connection refused").
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}

/// The S256 PKCE challenge of a verifier (RFC 7636 §4.2).
pub(crate) fn pkce_challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// `application/x-www-form-urlencoded` encoding, as HTTP Basic client authentication requires it
/// (RFC 6749 §2.3.1).
fn form_encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

#[async_trait]
impl IdentityProvider for OidcProvider {
    fn issuer(&self) -> String {
        self.metadata.issuer.clone()
    }

    fn authorization_url(&self, request: &AuthorizationRequest) -> String {
        let mut scopes = self.config.scopes.clone();
        if !scopes.iter().any(|s| s == "openid") {
            scopes.insert(0, "openid".into());
        }
        let Ok(mut url) = Url::parse(&self.metadata.authorization_endpoint) else {
            // Checked at discovery; unreachable in practice.
            return self.metadata.authorization_endpoint.clone();
        };
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.config.client_id)
            .append_pair("redirect_uri", &self.config.redirect_uri)
            .append_pair("scope", &scopes.join(" "))
            .append_pair("state", &request.state)
            .append_pair("nonce", &request.nonce)
            .append_pair("code_challenge", &pkce_challenge(&request.pkce_verifier))
            .append_pair("code_challenge_method", "S256");
        url.into()
    }

    async fn exchange_code(
        &self,
        code: &str,
        pkce_verifier: &str,
        nonce: &str,
    ) -> Result<VerifiedIdentity, IdentityError> {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", self.config.redirect_uri.as_str()),
            ("code_verifier", pkce_verifier),
        ];
        let mut request = self.http.post(&self.metadata.token_endpoint);
        match &self.config.client_secret {
            Some(secret) if self.metadata.prefers_secret_in_form() => {
                form.push(("client_id", self.config.client_id.as_str()));
                form.push(("client_secret", secret.expose()));
            }
            Some(secret) => {
                request = request.basic_auth(
                    form_encode(&self.config.client_id),
                    Some(form_encode(secret.expose())),
                );
            }
            None => form.push(("client_id", self.config.client_id.as_str())),
        }
        let response = request
            .header(reqwest::header::ACCEPT, "application/json")
            .form(&form)
            .send()
            .await
            .map_err(|e| {
                IdentityError::Unavailable(format!(
                    "the token endpoint did not answer: {}",
                    error_chain(&e)
                ))
            })?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| {
            IdentityError::Unavailable(format!("the token endpoint's answer was cut: {e}"))
        })?;
        if status.is_server_error() {
            return Err(IdentityError::Unavailable(format!(
                "the token endpoint answered HTTP {status}"
            )));
        }
        if !status.is_success() {
            let reason = match serde_json::from_slice::<OAuthError>(&body) {
                Ok(e) => match e.error_description {
                    Some(d) => format!("the provider refused the code: {} ({d})", e.error),
                    None => format!("the provider refused the code: {}", e.error),
                },
                Err(_) => format!("the provider refused the code with HTTP {status}"),
            };
            return Err(IdentityError::Rejected(reason));
        }
        let answer: TokenResponse = serde_json::from_slice(&body).map_err(|e| {
            IdentityError::Unavailable(format!("the token endpoint's answer is not JSON: {e}"))
        })?;
        let id_token = answer.id_token.ok_or_else(|| {
            IdentityError::Rejected("the token endpoint answered without an ID token".into())
        })?;
        self.validate(&id_token, nonce).await
    }

    fn end_session_url(&self, id_token_hint: Option<String>) -> Option<String> {
        let mut url = Url::parse(self.metadata.end_session_endpoint.as_deref()?).ok()?;
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("client_id", &self.config.client_id);
            if let Some(hint) = &id_token_hint {
                query.append_pair("id_token_hint", hint);
            }
            // Back to keyport's start page once the provider is done.
            if let Ok(home) = Url::parse(&self.config.redirect_uri).and_then(|u| u.join("/")) {
                query.append_pair("post_logout_redirect_uri", home.as_str());
            }
        }
        Some(url.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pkce_challenge_is_rfc_7636s_example() {
        // RFC 7636, appendix B.
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn basic_credentials_are_form_encoded() {
        assert_eq!(form_encode("a b:c/d"), "a+b%3Ac%2Fd");
    }
}
