use crate::identity::AccessTokenStore;
use crate::identity::TokenGrant;
use crate::runtime::Clock;
use crate::secret::{Secret, SecretKind};
use crate::users::{Actor, Role, User, UserStatus};
use crate::Error;
use std::sync::Arc;

/// Turn a presented personal access token into an [`Actor`]. The token's checksum is checked first, so that
/// random strings never reach the database; then its hash is looked up (the store compares hashes, never
/// secrets). Revoked, expired and unknown tokens, and tokens of suspended users, are all "unauthenticated".
pub struct Authenticate {
    tokens: Arc<dyn AccessTokenStore>,
    clock: Arc<dyn Clock>,
}

impl Authenticate {
    pub fn new(tokens: Arc<dyn AccessTokenStore>, clock: Arc<dyn Clock>) -> Self {
        Self { tokens, clock }
    }

    /// The caller, their user record and what the token allows. A token without the `admin` scope acts
    /// as a plain member whatever its owner's roles: an administrator's power through a token is explicit.
    pub async fn execute(&self, presented: &str) -> Result<(Actor, User, TokenGrant), Error> {
        let secret = Secret::parse(SecretKind::AccessToken, presented)
            .map_err(|_| Error::Unauthenticated)?;
        let hash = secret.hash();
        let (token, user) = self
            .tokens
            .find_live_access_token(&hash, self.clock.now())
            .await?
            .ok_or(Error::Unauthenticated)?;
        if !token.hash.ct_eq(&hash) || user.status != UserStatus::Active {
            return Err(Error::Unauthenticated);
        }
        let roles = if token.scopes.iter().any(|s| s == "admin") {
            user.roles.clone()
        } else {
            vec![Role::User]
        };
        let actor = Actor {
            user_id: user.id,
            roles,
            request_id: None,
            client_addr: None,
            client_request_id: None,
        };
        let grant = TokenGrant {
            scopes: token.scopes,
            expires_at: token.expires_at,
        };
        Ok((actor, user, grant))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::*;
    use crate::identity::{AccessToken, MockAccessTokenStore};
    use crate::ids::{AccessTokenId, UserId};
    use crate::users::Role;

    fn token_secret() -> Secret {
        Secret::from_random(SecretKind::AccessToken, &[9; crate::secret::RANDOM_BYTES])
    }

    fn stored(user: UserId, status: UserStatus) -> (AccessToken, User) {
        let secret = token_secret();
        (
            AccessToken {
                id: AccessTokenId::new(),
                user_id: user,
                name: "cli".into(),
                prefix: secret.prefix(),
                hash: secret.hash(),
                scopes: vec!["read".into(), "write".into()],
                expires_at: None,
                last_used_at: None,
                created_at: now(),
                revoked_at: None,
            },
            User {
                id: user,
                username: "alice".into(),
                email: None,
                display_name: None,
                roles: vec![Role::User, Role::Admin],
                status,
                created_at: now(),
            },
        )
    }

    #[tokio::test]
    async fn a_live_token_authenticates_its_user_with_their_roles() {
        let mut store = MockAccessTokenStore::new();
        let hash = token_secret().hash();
        store
            .expect_find_live_access_token()
            .times(1)
            .withf(move |h, at| *h == hash && *at == now())
            .returning(|_, _| Ok(Some(stored(alice().user_id, UserStatus::Active))));
        let (actor, user, grant) = Authenticate::new(Arc::new(store), fixed_clock())
            .execute(token_secret().expose())
            .await
            .unwrap();
        assert_eq!(actor.user_id, alice().user_id);
        assert_eq!(user.username, "alice");
        assert_eq!(grant.scopes, ["read", "write"]);
        assert!(user.is_admin());
        assert!(
            !actor.is_admin(),
            "an administrator's token without the admin scope acts as a plain member"
        );
    }

    #[tokio::test]
    async fn only_a_token_with_the_admin_scope_carries_its_owners_roles() {
        let mut store = MockAccessTokenStore::new();
        store.expect_find_live_access_token().returning(|_, _| {
            let (mut token, user) = stored(alice().user_id, UserStatus::Active);
            token.scopes.push("admin".into());
            token.expires_at = Some(now() + chrono::TimeDelta::days(1));
            Ok(Some((token, user)))
        });
        let (actor, _, grant) = Authenticate::new(Arc::new(store), fixed_clock())
            .execute(token_secret().expose())
            .await
            .unwrap();
        assert!(actor.is_admin());
        assert_eq!(grant.expires_at, Some(now() + chrono::TimeDelta::days(1)));
    }

    #[tokio::test]
    async fn a_malformed_token_never_reaches_the_store() {
        let mut store = MockAccessTokenStore::new();
        store.expect_find_live_access_token().never();
        let uc = Authenticate::new(Arc::new(store), fixed_clock());
        for bad in [
            "",
            "kp_pat_short",
            &token_secret().expose().replace('k', "K"),
            "sk-kp-whatever",
        ] {
            assert_eq!(uc.execute(bad).await.unwrap_err(), Error::Unauthenticated);
        }
    }

    #[tokio::test]
    async fn unknown_tokens_and_suspended_users_are_unauthenticated() {
        let mut store = MockAccessTokenStore::new();
        let mut answers = vec![
            Ok(None),
            Ok(Some(stored(alice().user_id, UserStatus::Suspended))),
        ]
        .into_iter();
        store
            .expect_find_live_access_token()
            .times(2)
            .returning(move |_, _| answers.next().unwrap());
        let uc = Authenticate::new(Arc::new(store), fixed_clock());
        assert_eq!(
            uc.execute(token_secret().expose()).await.unwrap_err(),
            Error::Unauthenticated
        );
        assert_eq!(
            uc.execute(token_secret().expose()).await.unwrap_err(),
            Error::Unauthenticated
        );
    }
}
