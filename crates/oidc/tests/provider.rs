//! `OidcProvider` against a real OpenID Connect provider (tests/oidc-provider, node-oidc-provider 9) on
//! loopback: discovery, the login through its form, and every way an ID token must be refused.

#![expect(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test code: a failed unwrap or a panic is a failed test"
)]

use keyport_domain::identity::{AuthorizationRequest, IdentityError, IdentityProvider};
use keyport_oidc::testing::{
    browser, log_in_at_provider, TestProvider, TokenMode, CLIENT_ID, CLIENT_SECRET,
};
use keyport_oidc::{ClientSecret, DiscoveryError, OidcConfig, OidcProvider};

const REDIRECT: &str = "http://127.0.0.1:9/api/v1/auth/callback";

fn config(issuer: &str) -> OidcConfig {
    OidcConfig::new(
        issuer,
        CLIENT_ID,
        Some(ClientSecret::new(CLIENT_SECRET)),
        REDIRECT,
    )
}

fn request(n: u8) -> AuthorizationRequest {
    AuthorizationRequest {
        state: format!("state-{n}"),
        nonce: format!("nonce-{n}-{}", "x".repeat(20)),
        pkce_verifier: format!("{}{n}", "v".repeat(50)),
    }
}

/// Logs in at the provider as `account` and answers the code of the redirect back.
async fn code_for(
    provider: &OidcProvider,
    account: &str,
    request: &AuthorizationRequest,
) -> String {
    let callback = log_in_at_provider(
        &browser(),
        &provider.authorization_url(request),
        account,
        REDIRECT,
    )
    .await;
    let url = url::Url::parse(&callback).unwrap();
    let param = |name: &str| {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    assert_eq!(param("state").as_deref(), Some(request.state.as_str()));
    param("code").unwrap_or_else(|| panic!("no code in {callback}"))
}

async fn started() -> Option<(TestProvider, OidcProvider)> {
    let test = TestProvider::start(REDIRECT).await?;
    let provider = OidcProvider::discover(config(&test.issuer)).await.unwrap();
    Some((test, provider))
}

async fn rejected_with(mode: TokenMode, expected: &str) {
    let Some((test, provider)) = started().await else {
        return;
    };
    test.set_token_mode(mode).await;
    let r = request(1);
    let code = code_for(&provider, "alice", &r).await;
    match provider
        .exchange_code(&code, &r.pkce_verifier, &r.nonce)
        .await
    {
        Err(IdentityError::Rejected(reason)) => {
            assert!(
                reason.contains(expected),
                "{mode:?}: expected '{expected}' in '{reason}'"
            )
        }
        other => panic!("{mode:?}: expected a rejection, got {other:?}"),
    }
}

#[tokio::test]
async fn a_login_through_the_form_answers_the_verified_identity_with_groups() {
    let Some((test, provider)) = started().await else {
        return;
    };
    assert_eq!(provider.issuer(), test.issuer);
    let r = request(1);
    let url = provider.authorization_url(&r);
    assert!(url.contains("code_challenge_method=S256"), "{url}");
    assert!(
        !url.contains(&r.pkce_verifier),
        "the verifier never leaves keyport: {url}"
    );
    let code = code_for(&provider, "root", &r).await;
    let identity = provider
        .exchange_code(&code, &r.pkce_verifier, &r.nonce)
        .await
        .unwrap();
    assert_eq!(identity.issuer, test.issuer);
    assert_eq!(identity.subject, "root");
    assert_eq!(identity.email.as_deref(), Some("root@example.test"));
    assert_eq!(identity.email_verified, Some(true));
    assert_eq!(identity.preferred_username.as_deref(), Some("root"));
    assert_eq!(identity.name.as_deref(), Some("Root Admin"));
    assert_eq!(identity.groups, ["keyport-admins", "keyport-users"]);
    assert_eq!(identity.id_token.split('.').count(), 3);
}

#[tokio::test]
async fn a_code_cannot_be_exchanged_twice_nor_with_another_verifier() {
    let Some((_test, provider)) = started().await else {
        return;
    };
    let r = request(2);
    let code = code_for(&provider, "alice", &r).await;
    let wrong = provider
        .exchange_code(&code, &"w".repeat(51), &r.nonce)
        .await
        .unwrap_err();
    assert!(
        matches!(&wrong, IdentityError::Rejected(m) if m.contains("invalid_grant")),
        "{wrong:?}"
    );

    let r = request(3);
    let code = code_for(&provider, "alice", &r).await;
    provider
        .exchange_code(&code, &r.pkce_verifier, &r.nonce)
        .await
        .unwrap();
    let replay = provider
        .exchange_code(&code, &r.pkce_verifier, &r.nonce)
        .await
        .unwrap_err();
    assert!(
        matches!(&replay, IdentityError::Rejected(m) if m.contains("invalid_grant")),
        "{replay:?}"
    );
}

#[tokio::test]
async fn a_token_for_another_audience_is_rejected() {
    rejected_with(TokenMode::ForeignAudience, "another client").await;
}

#[tokio::test]
async fn an_expired_token_is_rejected() {
    rejected_with(TokenMode::Expired, "expired").await;
}

#[tokio::test]
async fn a_token_with_another_nonce_is_rejected() {
    rejected_with(TokenMode::WrongNonce, "nonce").await;
}

#[tokio::test]
async fn a_token_from_another_issuer_is_rejected() {
    rejected_with(TokenMode::WrongIssuer, "issuer").await;
}

#[tokio::test]
async fn a_token_signed_by_another_key_is_rejected() {
    rejected_with(TokenMode::BadSignature, "signature").await;
}

#[tokio::test]
async fn an_unsigned_token_is_rejected() {
    rejected_with(TokenMode::AlgNone, "'none'").await;
}

#[tokio::test]
async fn an_hmac_token_keyed_with_the_public_key_is_rejected() {
    rejected_with(TokenMode::Hs256, "'HS256'").await;
}

#[tokio::test]
async fn a_key_rotated_in_after_discovery_is_fetched_and_accepted() {
    let Some((test, provider)) = started().await else {
        return;
    };
    test.set_token_mode(TokenMode::RotatedKey).await;
    let r = request(4);
    let code = code_for(&provider, "alice", &r).await;
    let identity = provider
        .exchange_code(&code, &r.pkce_verifier, &r.nonce)
        .await
        .unwrap();
    assert_eq!(identity.subject, "alice");
    assert_eq!(identity.groups, ["keyport-users"]);
}

#[tokio::test]
async fn the_end_session_url_carries_the_hint_and_the_provider_accepts_it() {
    let Some((test, provider)) = started().await else {
        return;
    };
    let r = request(5);
    let code = code_for(&provider, "alice", &r).await;
    let identity = provider
        .exchange_code(&code, &r.pkce_verifier, &r.nonce)
        .await
        .unwrap();
    let url = provider
        .end_session_url(Some(identity.id_token.clone()))
        .unwrap();
    assert!(
        url.starts_with(&format!("{}/session/end?", test.issuer)),
        "{url}"
    );
    let parsed = url::Url::parse(&url).unwrap();
    let pairs: Vec<(String, String)> = parsed.query_pairs().into_owned().collect();
    assert!(pairs.contains(&("id_token_hint".into(), identity.id_token.clone())));
    assert!(pairs.contains(&(
        "post_logout_redirect_uri".into(),
        "http://127.0.0.1:9/".into()
    )));
    // The provider shows its logout confirmation rather than an error.
    let page = browser().get(&url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let body = page.text().await.unwrap();
    assert!(body.contains("logout"), "{body}");
}

#[tokio::test]
async fn discovery_fails_clearly_when_the_issuer_is_unreachable_or_not_itself() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let err = OidcProvider::discover(config(&format!("http://127.0.0.1:{port}")))
        .await
        .unwrap_err();
    assert!(matches!(err, DiscoveryError::Unreachable { .. }), "{err}");
    assert!(err.to_string().contains(&port.to_string()), "{err}");

    let err = OidcProvider::discover(config("http://idp.example"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, DiscoveryError::Config(_)),
        "plain http off loopback: {err}"
    );

    let Some(test) = TestProvider::start(REDIRECT).await else {
        return;
    };
    // Same server, but not the issuer it names: keyport must refuse its metadata.
    let other = test.issuer.replace("127.0.0.1", "localhost");
    let err = OidcProvider::discover(config(&other)).await.unwrap_err();
    assert!(
        matches!(&err, DiscoveryError::Metadata { reason, .. } if reason.contains("not the configured")),
        "{err}"
    );
}
