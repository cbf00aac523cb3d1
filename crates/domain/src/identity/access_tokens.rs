//! Personal access tokens, managed by their owner: create (shown once), list, revoke.

use crate::audit::AuditEvent;
use crate::identity::MAX_TOKEN_DAYS;
use crate::identity::{AccessToken, AccessTokenStore};
use crate::ids::{AccessTokenId, UserId};
use crate::keys::is_hidden;
use crate::runtime::{Clock, SecretGenerator};
use crate::secret::{Secret, SecretKind};
use crate::settings::SettingsSource;
use crate::users::Actor;
use crate::users::IssuedToken;
use crate::{Error, FieldError, StoreError};
use chrono::TimeDelta;
use std::sync::Arc;

/// What a token may do: `read` allows safe requests (GET), `write` allows every request, `admin` lets an
/// administrator's (or auditor's) token use their role: without it, a token acts as a plain member.
pub const SCOPES: [&str; 3] = ["read", "write", "admin"];
/// How many live tokens one user may hold.
pub const MAX_LIVE_TOKENS: usize = 50;

#[derive(Debug, Clone)]
pub struct CreateTokenRequest {
    pub name: String,
    pub scopes: Vec<String>,
    /// Days until it expires; `None` for a token that does not expire.
    pub expires_in_days: Option<u32>,
    /// The token the request came with, when it came with one: the new token may not outlive it nor do
    /// more than it (a stolen short-lived token cannot mint itself a lasting, wider one).
    pub parent: Option<TokenGrant>,
}

/// What the token a request came with allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenGrant {
    pub scopes: Vec<String>,
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl TokenGrant {
    /// Whether a token with `scope` does no more than this one (`write` covers `read`).
    fn covers(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
            || (scope == "read" && self.scopes.iter().any(|s| s == "write"))
    }
}

pub struct ManageAccessTokens {
    tokens: Arc<dyn AccessTokenStore>,
    clock: Arc<dyn Clock>,
    secrets: Arc<dyn SecretGenerator>,
    /// The administrator's settings (the longest a token may live); none: only [`MAX_TOKEN_DAYS`].
    settings: Option<SettingsSource>,
}

impl ManageAccessTokens {
    pub fn new(
        tokens: Arc<dyn AccessTokenStore>,
        clock: Arc<dyn Clock>,
        secrets: Arc<dyn SecretGenerator>,
    ) -> Self {
        Self {
            tokens,
            clock,
            secrets,
            settings: None,
        }
    }

    /// Reads the organisation's maximum token lifetime from the administrator's settings.
    pub fn with_settings(mut self, settings: SettingsSource) -> Self {
        self.settings = Some(settings);
        self
    }

    pub async fn create(
        &self,
        actor: &Actor,
        request: CreateTokenRequest,
    ) -> Result<IssuedToken, Error> {
        let mut errors = Vec::new();
        let name = request.name.trim().to_owned();
        if name.is_empty() || request.name.chars().count() > 64 || name.chars().any(is_hidden) {
            errors.push(FieldError::new(
                "name",
                "1 to 64 characters, without control, invisible or text-direction characters",
            ));
        }
        let mut scopes: Vec<String> = Vec::new();
        for (i, scope) in request.scopes.iter().enumerate() {
            if !SCOPES.contains(&scope.as_str()) {
                errors.push(FieldError::new(
                    format!("scopes[{i}]"),
                    "one of 'read', 'write', 'admin'",
                ));
            } else if scope == "admin" && !actor.can_oversee() {
                errors.push(FieldError::new(
                    format!("scopes[{i}]"),
                    "'admin' is for administrators' and auditors' tokens",
                ));
            } else if request.parent.as_ref().is_some_and(|p| !p.covers(scope)) {
                errors.push(FieldError::new(
                    format!("scopes[{i}]"),
                    format!("the token this request came with lacks '{scope}'; a token cannot make a wider one"),
                ));
            } else if !scopes.contains(scope) {
                scopes.push(scope.clone());
            }
        }
        if request.scopes.is_empty() {
            errors.push(FieldError::new("scopes", "choose 'read', 'write' or both"));
        }
        let max_days = match &self.settings {
            Some(settings) => settings.current().await?.token_max_lifetime_days,
            None => None,
        };
        match (request.expires_in_days, max_days) {
            (Some(days), _) if days == 0 || days > MAX_TOKEN_DAYS => errors.push(FieldError::new(
                "expires_in_days",
                format!("1 to {MAX_TOKEN_DAYS} days, or null for no expiry"),
            )),
            (Some(days), Some(max)) if days > max => errors.push(FieldError::new(
                "expires_in_days",
                format!("at most {max} days: the longest a token may live here"),
            )),
            (None, Some(max)) => errors.push(FieldError::new(
                "expires_in_days",
                format!("tokens must expire here, within {max} days"),
            )),
            _ => {}
        }
        let now = self.clock.now();
        // Out-of-range days were reported above; they must not reach the date arithmetic (which overflows).
        let expires_at = request
            .expires_in_days
            .filter(|d| (1..=MAX_TOKEN_DAYS).contains(d))
            .and_then(|d| now.checked_add_signed(TimeDelta::days(i64::from(d))));
        if let Some(limit) = request.parent.as_ref().and_then(|p| p.expires_at) {
            if expires_at.is_none_or(|at| at > limit) {
                errors.push(FieldError::new(
                    "expires_in_days",
                    format!(
                        "the token this request came with expires at {limit}; a token it makes must expire by then"
                    ),
                ));
            }
        }
        if !errors.is_empty() {
            return Err(Error::Invalid(errors));
        }
        let live = self
            .tokens
            .list_access_tokens(actor.user_id)
            .await?
            .iter()
            .filter(|t| t.is_live(now))
            .count();
        if live >= MAX_LIVE_TOKENS {
            return Err(Error::Conflict {
                field: None,
                message: format!(
                    "you already hold {MAX_LIVE_TOKENS} live tokens; revoke one first"
                ),
            });
        }
        let secret = Secret::from_random(SecretKind::AccessToken, &self.secrets.random_bytes());
        let token = AccessToken {
            id: AccessTokenId::new(),
            user_id: actor.user_id,
            name,
            prefix: secret.prefix(),
            hash: secret.hash(),
            scopes,
            expires_at,
            last_used_at: None,
            created_at: now,
            revoked_at: None,
        };
        let audit = AuditEvent::by(actor, "access_token.create", "access_token", token.id, now)
            .with_after(serde_json::json!({
                "name": token.name,
                "prefix": token.prefix.as_str(),
                "scopes": token.scopes,
                "expires_at": token.expires_at,
            }));
        self.tokens.insert_access_token(&token, &audit).await?;
        Ok(IssuedToken { token, secret })
    }

    pub async fn list(&self, actor: &Actor) -> Result<Vec<AccessToken>, Error> {
        Ok(self.tokens.list_access_tokens(actor.user_id).await?)
    }

    /// Someone's tokens (never a secret), for administrators and auditors.
    pub async fn list_of(&self, actor: &Actor, owner: UserId) -> Result<Vec<AccessToken>, Error> {
        actor.require_oversight("other people's tokens")?;
        Ok(self.tokens.list_access_tokens(owner).await?)
    }

    /// Revokes someone's token, as an administrator (audited under the administrator).
    pub async fn revoke_of(
        &self,
        actor: &Actor,
        owner: UserId,
        id: AccessTokenId,
    ) -> Result<AccessToken, Error> {
        actor.require_admin("revoke other people's tokens")?;
        self.revoke_for(actor, owner, id).await
    }

    /// Revokes one of the caller's own tokens; someone else's is "not found".
    pub async fn revoke(&self, actor: &Actor, id: AccessTokenId) -> Result<AccessToken, Error> {
        self.revoke_for(actor, actor.user_id, id).await
    }

    async fn revoke_for(
        &self,
        actor: &Actor,
        owner: UserId,
        id: AccessTokenId,
    ) -> Result<AccessToken, Error> {
        let now = self.clock.now();
        let audit = AuditEvent::by(actor, "access_token.revoke", "access_token", id, now)
            .with_after(serde_json::json!({"revoked_at": now}));
        self.tokens
            .revoke_access_token(id, owner, now, &audit)
            .await
            .map_err(|e| match e {
                StoreError::NotFound => Error::NotFound {
                    entity: "access token",
                },
                other => other.into(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::*;
    use crate::identity::MockAccessTokenStore;

    fn request(scopes: &[&str], days: Option<u32>) -> CreateTokenRequest {
        CreateTokenRequest {
            name: " ci ".into(),
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            expires_in_days: days,
            parent: None,
        }
    }

    fn grant(scopes: &[&str], expires_in_days: Option<i64>) -> TokenGrant {
        TokenGrant {
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            expires_at: expires_in_days.map(|d| now() + TimeDelta::days(d)),
        }
    }

    #[tokio::test]
    async fn a_token_cannot_make_one_that_outlives_it_or_does_more() {
        let mut store = MockAccessTokenStore::new();
        store.expect_insert_access_token().never();
        let uc = ManageAccessTokens::new(Arc::new(store), fixed_clock(), fixed_secrets());
        let mut admin = alice();
        admin.roles.push(crate::users::Role::Admin);
        for (scopes, days, parent, field) in [
            (
                &["read", "write"][..],
                Some(1),
                grant(&["read"], Some(7)),
                "scopes[1]",
            ),
            (
                &["read", "admin"][..],
                Some(1),
                grant(&["read", "write"], None),
                "scopes[1]",
            ),
            (
                &["read"][..],
                None,
                grant(&["read"], Some(1)),
                "expires_in_days",
            ),
            (
                &["read"][..],
                Some(30),
                grant(&["write"], Some(1)),
                "expires_in_days",
            ),
        ] {
            let mut asked = request(scopes, days);
            asked.parent = Some(parent.clone());
            let Error::Invalid(errors) = uc.create(&admin, asked).await.unwrap_err() else {
                panic!("expected invalid for {scopes:?} from {parent:?}");
            };
            assert_eq!(
                errors[0].field, field,
                "{scopes:?} from {parent:?}: {errors:?}"
            );
        }
    }

    #[tokio::test]
    async fn only_oversight_lists_and_only_admins_revoke_someone_elses_tokens() {
        let mut store = MockAccessTokenStore::new();
        store
            .expect_list_access_tokens()
            .times(1)
            .returning(|_| Ok(vec![]));
        store
            .expect_revoke_access_token()
            .times(1)
            .withf(|_, owner, _, audit| {
                *owner == bob().user_id && audit.actor == Some(alice().user_id)
            })
            .returning(|_, _, _, _| Err(StoreError::NotFound));
        let uc = ManageAccessTokens::new(Arc::new(store), fixed_clock(), fixed_secrets());
        let owner = bob().user_id;
        assert!(matches!(
            uc.list_of(&alice(), owner).await.unwrap_err(),
            Error::Forbidden(_)
        ));
        assert!(matches!(
            uc.revoke_of(&alice(), owner, AccessTokenId::new())
                .await
                .unwrap_err(),
            Error::Forbidden(_)
        ));
        let mut auditor = alice();
        auditor.roles.push(crate::users::Role::Auditor);
        assert!(uc.list_of(&auditor, owner).await.unwrap().is_empty());
        assert!(matches!(
            uc.revoke_of(&auditor, owner, AccessTokenId::new())
                .await
                .unwrap_err(),
            Error::Forbidden(_)
        ));
        let mut admin = alice();
        admin.roles.push(crate::users::Role::Admin);
        assert_eq!(
            uc.revoke_of(&admin, owner, AccessTokenId::new())
                .await
                .unwrap_err(),
            Error::NotFound {
                entity: "access token"
            }
        );
    }

    #[tokio::test]
    async fn a_maximum_lifetime_makes_every_token_expire_within_it() {
        let mut settings = crate::settings::MockSettingsStore::new();
        settings.expect_get_settings().returning(|| {
            Ok(Some(crate::settings::SelfServiceSettings {
                token_max_lifetime_days: Some(30),
                ..crate::settings::SelfServiceSettings::default()
            }))
        });
        let mut store = MockAccessTokenStore::new();
        store.expect_list_access_tokens().returning(|_| Ok(vec![]));
        store
            .expect_insert_access_token()
            .times(1)
            .returning(|_, _| Ok(()));
        let uc = ManageAccessTokens::new(Arc::new(store), fixed_clock(), fixed_secrets())
            .with_settings(SettingsSource::new(
                Arc::new(settings),
                crate::settings::SelfServiceSettings::default(),
            ));
        for days in [None, Some(31)] {
            let Error::Invalid(errors) = uc
                .create(&alice(), request(&["read"], days))
                .await
                .unwrap_err()
            else {
                panic!("expected invalid for {days:?}");
            };
            assert_eq!(errors[0].field, "expires_in_days");
        }
        uc.create(&alice(), request(&["read"], Some(30)))
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn a_token_may_make_a_narrower_one_that_expires_no_later() {
        let mut store = MockAccessTokenStore::new();
        store.expect_list_access_tokens().returning(|_| Ok(vec![]));
        store
            .expect_insert_access_token()
            .times(1)
            .returning(|_, _| Ok(()));
        let uc = ManageAccessTokens::new(Arc::new(store), fixed_clock(), fixed_secrets());
        let mut asked = request(&["read"], Some(7));
        asked.parent = Some(grant(&["write"], Some(7)));
        let issued = uc.create(&alice(), asked).await.unwrap();
        assert_eq!(issued.token.scopes, ["read"]);
        assert_eq!(issued.token.expires_at, Some(now() + TimeDelta::days(7)));
    }

    #[tokio::test]
    async fn a_token_is_created_with_its_scopes_and_expiry_and_only_its_hash_stored() {
        let mut store = MockAccessTokenStore::new();
        let secret = Secret::from_random(SecretKind::AccessToken, &RANDOM);
        let plaintext = secret.expose().to_owned();
        store.expect_list_access_tokens().returning(|_| Ok(vec![]));
        store
            .expect_insert_access_token()
            .times(1)
            .withf(move |t, audit| {
                t.name == "ci"
                    && t.scopes == ["read"]
                    && t.expires_at == Some(now() + TimeDelta::days(30))
                    && t.user_id == alice().user_id
                    && audit.action == "access_token.create"
                    && t.hash == secret.hash()
                    && !format!("{t:?}{audit:?}").contains(&plaintext)
            })
            .returning(|_, _| Ok(()));
        let uc = ManageAccessTokens::new(Arc::new(store), fixed_clock(), fixed_secrets());
        let issued = uc
            .create(&alice(), request(&["read", "read"], Some(30)))
            .await
            .unwrap();
        assert_eq!(issued.token.hash, issued.secret.hash());
        assert!(issued.secret.expose().starts_with("kp_pat_"));
    }

    #[tokio::test]
    async fn bad_names_scopes_and_expiries_name_their_fields() {
        let mut store = MockAccessTokenStore::new();
        store.expect_insert_access_token().never();
        let uc = ManageAccessTokens::new(Arc::new(store), fixed_clock(), fixed_secrets());
        let mut bad = request(&["read", "admin"], Some(0));
        bad.name = "  ".into();
        let Error::Invalid(errors) = uc.create(&alice(), bad).await.unwrap_err() else {
            panic!("expected invalid");
        };
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["name", "scopes[1]", "expires_in_days"]);
        let Error::Invalid(errors) = uc.create(&alice(), request(&[], None)).await.unwrap_err()
        else {
            panic!("expected invalid");
        };
        assert_eq!(errors[0].field, "scopes");
        let mut reversed = request(&["read"], None);
        reversed.name = "deploy\u{202E}gnp.exe".into();
        let Error::Invalid(errors) = uc.create(&alice(), reversed).await.unwrap_err() else {
            panic!("expected invalid");
        };
        assert_eq!(errors[0].field, "name");
        // Found by schemathesis: a lifetime past any date keyport can write was a panic, not a 422.
        let Error::Invalid(errors) = uc
            .create(&alice(), request(&["read"], Some(u32::MAX)))
            .await
            .unwrap_err()
        else {
            panic!("expected invalid");
        };
        assert_eq!(errors[0].field, "expires_in_days");
    }

    #[tokio::test]
    async fn revoking_someone_elses_token_is_not_found() {
        let mut store = MockAccessTokenStore::new();
        let bob_id = bob().user_id;
        store
            .expect_revoke_access_token()
            .times(1)
            .withf(move |_, owner, _, audit| *owner == bob_id && audit.actor == Some(bob_id))
            .returning(|_, _, _, _| Err(StoreError::NotFound));
        let uc = ManageAccessTokens::new(Arc::new(store), fixed_clock(), fixed_secrets());
        let err = uc.revoke(&bob(), AccessTokenId::new()).await.unwrap_err();
        assert_eq!(
            err,
            Error::NotFound {
                entity: "access token"
            }
        );
    }
}
