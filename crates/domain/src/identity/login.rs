//! Login through an OpenID Connect provider: what keyport needs from the provider ([`IdentityProvider`]),
//! from the user store ([`IdentityUsers`]), and how the provider's groups become keyport roles
//! ([`RoleMapping`]).
//!
//! A person is known by the pair (issuer, subject) the provider vouches for, and by nothing else: an
//! account is never linked by username or email, which anyone able to register at some provider could
//! claim (account takeover).

use crate::audit::AuditEvent;
use crate::error::StoreError;
use crate::ids::UserId;
use crate::users::{normalize_roles, Role, User};
use crate::Error;
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// What keyport sends the user's browser to the provider with.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthorizationRequest {
    /// The `state` parameter (the plaintext; keyport stores only its hash).
    pub state: String,
    pub nonce: String,
    /// The PKCE code verifier; the adapter sends its S256 challenge.
    pub pkce_verifier: String,
}

impl std::fmt::Debug for AuthorizationRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuthorizationRequest { <redacted> }")
    }
}

/// An identity the provider vouched for in a valid ID token (signature, issuer, audience, expiry and
/// nonce checked).
#[derive(Clone, PartialEq, Eq)]
pub struct VerifiedIdentity {
    pub issuer: String,
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: Option<bool>,
    pub name: Option<String>,
    pub preferred_username: Option<String>,
    /// The values of the configured groups claim (empty when the token has none).
    pub groups: Vec<String>,
    /// The raw ID token, kept with the session as `id_token_hint` for logout.
    pub id_token: String,
}

impl std::fmt::Debug for VerifiedIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedIdentity")
            .field("issuer", &self.issuer)
            .field("subject", &self.subject)
            .field("email", &self.email)
            .field("groups", &self.groups)
            .finish_non_exhaustive()
    }
}

/// Why the provider did not give keyport a verified identity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// The provider refused the code exchange (`invalid_grant`: a used or expired code, a PKCE mismatch), or
    /// the ID token failed a check (signature, algorithm, issuer, audience, expiry, nonce). Not retryable.
    #[error("login rejected: {0}")]
    Rejected(String),
    /// The provider could not be reached, timed out, or answered 5xx or something unreadable.
    #[error("identity provider unavailable: {0}")]
    Unavailable(String),
}

/// The organisation's OpenID Connect provider.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait IdentityProvider: Send + Sync {
    /// The provider's issuer identifier, as its discovery document states it.
    fn issuer(&self) -> String;
    /// The URL of the provider's authorization endpoint for this login: authorization code flow with
    /// `state`, `nonce` and the S256 PKCE challenge of `pkce_verifier`, the configured scopes and
    /// keyport's redirect URI.
    fn authorization_url(&self, request: &AuthorizationRequest) -> String;
    /// Exchanges `code` (with the PKCE verifier) at the token endpoint and validates the ID token:
    /// signature against the provider's JWKS (fetched again once when the token names an unknown key),
    /// an allowed asymmetric algorithm, issuer, audience (and `azp`), expiry and issued-at with the
    /// configured clock skew, and that its `nonce` is `nonce`.
    async fn exchange_code(
        &self,
        code: &str,
        pkce_verifier: &str,
        nonce: &str,
    ) -> Result<VerifiedIdentity, IdentityError>;
    /// Where to send the browser to end the provider's session too (RP-initiated logout), with the ID
    /// token as `id_token_hint` when there is one; `None` when the provider has no end-session endpoint.
    fn end_session_url(&self, id_token_hint: Option<String>) -> Option<String>;
}

/// The profile fields the provider owns, refreshed at every login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileUpdate {
    pub email: Option<String>,
    pub display_name: Option<String>,
    /// `Some` to replace the roles (they follow the provider), `None` to keep them.
    pub roles: Option<Vec<Role>>,
}

/// Users as the login sees them: by the identity the provider vouches for.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait IdentityUsers: Send + Sync {
    /// The user linked to (issuer, subject), whatever their status.
    async fn find_by_identity(
        &self,
        issuer: &str,
        subject: &str,
    ) -> Result<Option<User>, StoreError>;
    /// Inserts a new user linked to (issuer, subject), with its audit event, in one transaction.
    /// MUST answer `Conflict(UsernameTaken)` when the username is taken (so that the
    /// caller can try another) and `Conflict(IdentityLinked)` when the identity
    /// is linked to a user already (two first logins at once).
    async fn insert_identity_user(
        &self,
        user: &User,
        issuer: &str,
        subject: &str,
        audit: &AuditEvent,
    ) -> Result<(), StoreError>;
    /// Replaces the user's email, display name and (when given) roles, with its audit event, in one
    /// transaction; answers the user as stored. MUST answer `NotFound` for an unknown user.
    async fn update_profile(
        &self,
        id: UserId,
        profile: &ProfileUpdate,
        at: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<User, StoreError>;
}

/// How the provider's groups become keyport roles, and who may log in at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleMapping {
    /// The ID token claim holding the groups (or roles): a list of strings or one string. A dotted path
    /// (`realm_access.roles`) reaches into nested objects when no claim has the whole name.
    pub groups_claim: String,
    /// Members of any of these are admins.
    pub admin_groups: Vec<String>,
    /// Members of any of these are auditors.
    pub auditor_groups: Vec<String>,
    /// When set, only members of one of these may log in; everyone else is refused.
    pub allowed_groups: Option<Vec<String>>,
    /// Whether roles follow the provider at every login (`false`: the first login sets them, then only
    /// administrators change them).
    pub sync_roles: bool,
}

impl Default for RoleMapping {
    fn default() -> Self {
        Self {
            groups_claim: "groups".into(),
            admin_groups: Vec::new(),
            auditor_groups: Vec::new(),
            allowed_groups: None,
            sync_roles: false,
        }
    }
}

impl RoleMapping {
    /// Whether any group grants a role (then roles follow the provider unless configured otherwise).
    pub fn maps_roles(&self) -> bool {
        !self.admin_groups.is_empty() || !self.auditor_groups.is_empty()
    }

    /// Whether someone in `groups` may log in.
    pub fn may_log_in(&self, groups: &[String]) -> bool {
        match &self.allowed_groups {
            None => true,
            Some(allowed) => groups.iter().any(|g| allowed.contains(g)),
        }
    }

    /// The roles someone in `groups` holds (always `user`; normalised).
    pub fn roles_for(&self, groups: &[String]) -> Vec<Role> {
        let mut roles = vec![Role::User];
        if groups.iter().any(|g| self.admin_groups.contains(g)) {
            roles.push(Role::Admin);
        }
        if groups.iter().any(|g| self.auditor_groups.contains(g)) {
            roles.push(Role::Auditor);
        }
        normalize_roles(&roles)
    }
}

/// Why a login did not succeed. Each variant has a stable problem code in the API.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoginError {
    /// `login-state-invalid`: the `state` is unknown, was used already, or expired.
    #[error("the login state is unknown, used or expired")]
    StateInvalid,
    /// `login-browser-mismatch`: the callback came without the login cookie of the browser that started
    /// this login, or with another one (login CSRF, a leaked callback URL). The state is used up.
    #[error("the login was started in another browser")]
    BrowserMismatch,
    /// `login-rejected`: the provider refused, or its answer failed a check.
    #[error("login rejected: {0}")]
    Rejected(String),
    /// `login-forbidden`: a valid identity that may not log in (not in an allowed group, suspended).
    #[error("login forbidden: {0}")]
    Forbidden(String),
    /// `identity-provider-unavailable`.
    #[error("identity provider unavailable: {0}")]
    ProviderUnavailable(String),
    /// Anything else (invalid input, the database down, a bug), as every use case reports it.
    #[error(transparent)]
    Other(#[from] Error),
}

impl From<StoreError> for LoginError {
    fn from(value: StoreError) -> Self {
        Self::Other(value.into())
    }
}

impl From<IdentityError> for LoginError {
    fn from(value: IdentityError) -> Self {
        match value {
            IdentityError::Rejected(reason) => Self::Rejected(reason),
            IdentityError::Unavailable(reason) => Self::ProviderUnavailable(reason),
        }
    }
}

/// The longest `return_to` accepted.
pub const MAX_RETURN_TO: usize = 2048;

/// Checks where to send the browser after the login: only a path on this keyport (starts with exactly one
/// `/`, no backslash, no control character), so that the login cannot be turned into an open redirect.
/// `None` or empty means `/`.
pub fn validate_return_to(value: Option<&str>) -> Result<String, crate::FieldError> {
    let value = match value {
        None | Some("") => return Ok("/".into()),
        Some(v) => v,
    };
    let bad = |why: &str| {
        Err(crate::FieldError::new(
            "return_to",
            format!("must be a path on this site starting with a single '/': {why}"),
        ))
    };
    if value.len() > MAX_RETURN_TO {
        return bad("too long");
    }
    if !value.starts_with('/') {
        return bad("not a relative path");
    }
    if value.starts_with("//") {
        return bad("'//' would leave the site");
    }
    if value.contains('\\') {
        return bad("backslashes are not allowed");
    }
    if value.chars().any(char::is_control) {
        return bad("control characters are not allowed");
    }
    Ok(value.to_owned())
}

/// The characters a username may hold (see [`crate::users::validate_username`]).
fn username_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@')
}

/// Room left in a username for a uniqueness suffix.
const USERNAME_BASE_MAX: usize = 56;

/// The base of a new user's username: `preferred_username`, else the email, else the subject, each
/// reduced to the characters usernames allow; the first that leaves something wins.
pub fn username_base(identity: &VerifiedIdentity) -> String {
    let candidates = [
        identity.preferred_username.as_deref(),
        identity.email.as_deref(),
        Some(identity.subject.as_str()),
    ];
    for candidate in candidates.into_iter().flatten() {
        let cleaned: String = candidate
            .trim()
            .chars()
            .map(|c| if username_char(c) { c } else { '-' })
            .take(USERNAME_BASE_MAX)
            .collect();
        let cleaned = cleaned.trim_matches('-').to_owned();
        if !cleaned.is_empty() {
            return cleaned;
        }
    }
    "user".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(preferred: Option<&str>, email: Option<&str>, subject: &str) -> VerifiedIdentity {
        VerifiedIdentity {
            issuer: "https://idp.example".into(),
            subject: subject.into(),
            email: email.map(Into::into),
            email_verified: Some(true),
            name: None,
            preferred_username: preferred.map(Into::into),
            groups: vec![],
            id_token: "x.y.z".into(),
        }
    }

    #[test]
    fn return_to_accepts_only_local_paths() {
        assert_eq!(validate_return_to(None).unwrap(), "/");
        assert_eq!(validate_return_to(Some("")).unwrap(), "/");
        assert_eq!(
            validate_return_to(Some("/keys?tab=live#top")).unwrap(),
            "/keys?tab=live#top"
        );
        for evil in [
            "https://evil.example/",
            "//evil.example/",
            "/\\evil.example",
            "evil",
            "/a\nb",
            "javascript:alert(1)",
        ] {
            let err = validate_return_to(Some(evil)).unwrap_err();
            assert_eq!(err.field, "return_to", "{evil}");
        }
        assert!(validate_return_to(Some(&format!("/{}", "a".repeat(MAX_RETURN_TO)))).is_err());
    }

    #[test]
    fn usernames_come_from_preferred_username_then_email_then_subject() {
        assert_eq!(
            username_base(&identity(Some("alice"), Some("a@x.test"), "s1")),
            "alice"
        );
        assert_eq!(
            username_base(&identity(None, Some("a@x.test"), "s1")),
            "a@x.test"
        );
        assert_eq!(username_base(&identity(None, None, "s-1")), "s-1");
        assert_eq!(
            username_base(&identity(Some("Anne Marie"), None, "s")),
            "Anne-Marie"
        );
        // Nothing usable in preferred_username: fall through to the email.
        assert_eq!(
            username_base(&identity(Some("  ***  "), Some("e@x.test"), "s")),
            "e@x.test"
        );
        assert_eq!(
            username_base(&identity(Some(&"x".repeat(100)), None, "s")).len(),
            USERNAME_BASE_MAX
        );
    }

    #[test]
    fn groups_map_to_roles_and_allowed_groups_gate_the_login() {
        let mapping = RoleMapping {
            admin_groups: vec!["admins".into()],
            auditor_groups: vec!["auditors".into()],
            allowed_groups: Some(vec!["users".into(), "admins".into()]),
            ..RoleMapping::default()
        };
        let groups = |g: &[&str]| g.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(mapping.roles_for(&groups(&["users"])), vec![Role::User]);
        assert_eq!(
            mapping.roles_for(&groups(&["admins", "auditors"])),
            vec![Role::User, Role::Admin, Role::Auditor]
        );
        assert!(mapping.may_log_in(&groups(&["users"])));
        assert!(!mapping.may_log_in(&groups(&["auditors"])));
        assert!(!mapping.may_log_in(&[]));
        assert!(RoleMapping::default().may_log_in(&[]));
        assert!(mapping.maps_roles());
        assert!(!RoleMapping::default().maps_roles());
    }
}
