//! The provider's discovery document (OpenID Connect Discovery 1.0), checked before it is used.

use serde::Deserialize;
use url::Url;

/// The algorithms keyport accepts for ID tokens: asymmetric only.
pub(crate) const ALLOWED_ALGORITHMS: [&str; 3] = ["RS256", "ES256", "EdDSA"];

/// What keyport uses of the discovery document.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ProviderMetadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
    #[serde(default)]
    pub end_session_endpoint: Option<String>,
    #[serde(default)]
    pub id_token_signing_alg_values_supported: Vec<String>,
    #[serde(default)]
    pub code_challenge_methods_supported: Option<Vec<String>>,
    #[serde(default)]
    pub token_endpoint_auth_methods_supported: Option<Vec<String>>,
}

/// Whether `url` is an `https` URL, or an `http` one on a loopback address (tests, local providers).
pub(crate) fn secure_url(url: &str) -> Result<Url, String> {
    let parsed = Url::parse(url).map_err(|e| format!("'{url}' is not a URL: {e}"))?;
    match parsed.scheme() {
        "https" => Ok(parsed),
        "http" if is_loopback(&parsed) => Ok(parsed),
        _ => Err(format!(
            "'{url}' must use https (plain http is allowed only on a loopback address)"
        )),
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    }
}

/// The issuer without a trailing slash, for comparing a configured issuer with the document's.
fn trimmed(issuer: &str) -> &str {
    issuer.strip_suffix('/').unwrap_or(issuer)
}

impl ProviderMetadata {
    /// Checks the document against the configured issuer: the issuer must be the same (a trailing slash
    /// aside), every endpoint https (or loopback http), and the provider must sign ID tokens with an
    /// algorithm keyport accepts and (when it says) support S256 PKCE.
    pub(crate) fn validate(&self, configured_issuer: &str) -> Result<(), String> {
        if trimmed(&self.issuer) != trimmed(configured_issuer) {
            return Err(format!(
                "the discovery document names the issuer '{}', not the configured '{configured_issuer}'",
                self.issuer
            ));
        }
        secure_url(&self.issuer)?;
        secure_url(&self.authorization_endpoint)?;
        secure_url(&self.token_endpoint)?;
        secure_url(&self.jwks_uri)?;
        if let Some(end) = &self.end_session_endpoint {
            secure_url(end)?;
        }
        // The field is required by the specification; when a provider leaves it out, RS256 is the default.
        let algorithms: Vec<&str> = if self.id_token_signing_alg_values_supported.is_empty() {
            vec!["RS256"]
        } else {
            self.id_token_signing_alg_values_supported
                .iter()
                .map(String::as_str)
                .collect()
        };
        if !algorithms.iter().any(|a| ALLOWED_ALGORITHMS.contains(a)) {
            return Err(format!(
                "the provider signs ID tokens with {} only; keyport accepts {}",
                algorithms.join(", "),
                ALLOWED_ALGORITHMS.join(", ")
            ));
        }
        if let Some(methods) = &self.code_challenge_methods_supported {
            if !methods.iter().any(|m| m == "S256") {
                return Err(format!(
                    "the provider does not support PKCE with S256 (it lists {})",
                    methods.join(", ")
                ));
            }
        }
        Ok(())
    }

    /// Whether the token endpoint takes the client secret in the form rather than HTTP Basic (only when
    /// the provider lists `client_secret_post` and not `client_secret_basic`, Basic being the default).
    pub(crate) fn prefers_secret_in_form(&self) -> bool {
        self.token_endpoint_auth_methods_supported
            .as_ref()
            .is_some_and(|m| {
                !m.iter().any(|x| x == "client_secret_basic")
                    && m.iter().any(|x| x == "client_secret_post")
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata() -> ProviderMetadata {
        ProviderMetadata {
            issuer: "https://idp.example/realms/acme".into(),
            authorization_endpoint: "https://idp.example/auth".into(),
            token_endpoint: "https://idp.example/token".into(),
            jwks_uri: "https://idp.example/certs".into(),
            end_session_endpoint: None,
            id_token_signing_alg_values_supported: vec!["RS256".into()],
            code_challenge_methods_supported: Some(vec!["plain".into(), "S256".into()]),
            token_endpoint_auth_methods_supported: None,
        }
    }

    #[test]
    fn a_sound_document_passes() {
        assert_eq!(
            metadata().validate("https://idp.example/realms/acme/"),
            Ok(())
        );
    }

    #[test]
    fn another_issuer_is_refused() {
        let err = metadata()
            .validate("https://idp.example/realms/other")
            .unwrap_err();
        assert!(err.contains("not the configured"), "{err}");
    }

    #[test]
    fn plain_http_is_refused_except_on_loopback() {
        let mut m = metadata();
        m.token_endpoint = "http://idp.example/token".into();
        assert!(m.validate(&m.issuer.clone()).unwrap_err().contains("https"));
        assert!(secure_url("http://127.0.0.1:8080/x").is_ok());
        assert!(secure_url("http://localhost/x").is_ok());
        assert!(secure_url("http://[::1]:1/x").is_ok());
        assert!(secure_url("ftp://idp.example/").is_err());
    }

    #[test]
    fn a_provider_signing_only_with_hmac_or_without_s256_is_refused() {
        let mut m = metadata();
        m.id_token_signing_alg_values_supported = vec!["HS256".into(), "none".into()];
        assert!(m
            .validate(&m.issuer.clone())
            .unwrap_err()
            .contains("keyport accepts"));
        let mut m = metadata();
        m.code_challenge_methods_supported = Some(vec!["plain".into()]);
        assert!(m.validate(&m.issuer.clone()).unwrap_err().contains("S256"));
    }

    #[test]
    fn the_secret_goes_in_the_form_only_when_basic_is_not_offered() {
        let mut m = metadata();
        assert!(!m.prefers_secret_in_form());
        m.token_endpoint_auth_methods_supported = Some(vec!["client_secret_post".into()]);
        assert!(m.prefers_secret_in_form());
        m.token_endpoint_auth_methods_supported = Some(vec![
            "client_secret_post".into(),
            "client_secret_basic".into(),
        ]);
        assert!(!m.prefers_secret_in_form());
    }
}
