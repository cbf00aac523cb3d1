//! keyport's OpenID Connect adapter: [`OidcProvider`] implements the domain's
//! [`IdentityProvider`](keyport_domain::identity::IdentityProvider) against any compliant provider (Keycloak,
//! Entra ID, Google, Okta, Dex, …). At start it reads the provider's discovery document and JWKS and fails
//! clearly when either is unreachable or wrong; logins use the authorization code flow with PKCE (S256),
//! `state` and `nonce`; the ID token is validated here — signature against the JWKS (fetched again when a
//! token names a key it does not hold), asymmetric algorithms only (RS256, ES256, EdDSA: never `none`,
//! never HMAC with a public key), issuer, audience and `azp`, expiry and issued-at with 60 s of clock
//! skew, and the nonce.

mod config;
mod metadata;
mod provider;
mod token;

#[cfg(feature = "testing")]
pub mod testing;

pub use config::{ClientSecret, OidcConfig, DEFAULT_CLOCK_SKEW};
pub use metadata::ProviderMetadata;
pub use provider::{DiscoveryError, OidcProvider};
