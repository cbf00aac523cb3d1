//! Single sign-on through the real binary against a real OpenID Connect provider (tests/oidc-provider,
//! node-oidc-provider 9 on loopback), driven over HTTP with a cookie-keeping client and no browser: login,
//! group → role mapping, allowed groups, every refused token (audience, expiry, nonce), replayed and forged
//! states, the binding of a login to the browser that started it (login CSRF, a leaked callback URL), the
//! `__Host-` cookies of an HTTPS profile, suspension, logout through the provider, and the per-address
//! limit on the callback.

#![expect(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "test helpers outside #[test] functions: a failed unwrap or panic is a failed test"
)]

mod common;

use keyport_oidc::testing::{
    browser, log_in_at_provider, TestProvider, TokenMode, CLIENT_ID, CLIENT_SECRET,
};
use keyport_testkit::double::{DoubleConfig, LiteLlmDouble};
use keyport_testkit::TestDb;
use reqwest::header::{ACCEPT, COOKIE, LOCATION, SET_COOKIE};
use serde_json::Value;
use std::process::{Child, Stdio};

struct Sso {
    base: String,
    /// The URL people reach keyport at (`base`, unless a test sets KEYPORT_PUBLIC_URL).
    public: String,
    redirect: String,
    provider: TestProvider,
    db: TestDb,
    double: LiteLlmDouble,
    child: Child,
}

impl Drop for Sso {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// keyport with single sign-on through a fresh test provider (admins: `keyport-admins`), plus `env`.
/// `None` when node is missing (the harness has said so loudly).
async fn start(env: &[(&str, &str)]) -> Option<Sso> {
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let public = env
        .iter()
        .find(|(k, _)| *k == "KEYPORT_PUBLIC_URL")
        .map_or_else(|| base.clone(), |(_, v)| v.trim_end_matches('/').to_owned());
    let redirect = format!("{public}/api/v1/auth/callback");
    let provider = TestProvider::start(&redirect).await?;
    let db = TestDb::new().await;
    let double = LiteLlmDouble::start(DoubleConfig::demo()).await.unwrap();
    // As the database owner, which also migrates.
    let mut child = common::keyport(&db, db.url(), &double)
        // Plain-HTTP loopback: the development profile lets the cookies go without `Secure`.
        .env("KEYPORT_PROFILE", "development")
        .env("KEYPORT_PUBLIC_URL", &base)
        .env("KEYPORT_OIDC_ISSUER", &provider.issuer)
        .env("KEYPORT_OIDC_CLIENT_ID", CLIENT_ID)
        .env("KEYPORT_OIDC_CLIENT_SECRET", CLIENT_SECRET)
        .env("KEYPORT_OIDC_ADMIN_GROUPS", "keyport-admins")
        .envs(env.iter().copied())
        .args([
            "serve",
            "--bind",
            &format!("127.0.0.1:{port}"),
            "--workers",
            "1",
            "--sync-interval-secs",
            "0",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    common::listening_address(&mut child).await;
    Some(Sso {
        base,
        public,
        redirect,
        provider,
        db,
        double,
        child,
    })
}

impl Sso {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Starts a login at keyport: answers the provider's authorization URL and the `Set-Cookie` of the
    /// login cookie (which `browser` keeps, when it keeps cookies).
    async fn begin(&self, browser: &reqwest::Client) -> (String, String) {
        let start = browser
            .get(self.url("/api/v1/auth/login?return_to=/keys"))
            .send()
            .await
            .unwrap();
        assert_eq!(start.status(), 302);
        assert_eq!(start.headers()["cache-control"], "no-store");
        let to_provider = start.headers()[LOCATION].to_str().unwrap().to_owned();
        assert!(
            to_provider.starts_with(&self.provider.issuer),
            "{to_provider}"
        );
        let set_cookies = set_cookies(&start);
        assert_eq!(set_cookies.len(), 1, "{set_cookies:?}");
        (to_provider, set_cookies[0].clone())
    }

    /// Starts a login at keyport and goes through the provider's form as `account`; answers the URL of
    /// the provider's redirect back to keyport (not yet called).
    async fn provider_redirect(&self, browser: &reqwest::Client, account: &str) -> String {
        let (to_provider, _) = self.begin(browser).await;
        log_in_at_provider(browser, &to_provider, account, &self.redirect).await
    }

    /// The provider's redirect back (to the public URL), sent to this test's keyport instead.
    fn local(&self, back: &str) -> String {
        let rest = back
            .strip_prefix(&self.public)
            .expect("a redirect to keyport");
        self.url(rest)
    }

    /// A whole login as `account`: the callback's answer.
    async fn login(&self, browser: &reqwest::Client, account: &str) -> reqwest::Response {
        let back = self.provider_redirect(browser, account).await;
        browser.get(back).send().await.unwrap()
    }

    async fn me(&self, browser: &reqwest::Client) -> (u16, Value) {
        let r = browser.get(self.url("/api/v1/me")).send().await.unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }
}

fn set_cookies(response: &reqwest::Response) -> Vec<String> {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

/// The value of `name=value; …`.
fn cookie_value<'c>(set_cookie: &'c str, name: &str) -> Option<&'c str> {
    set_cookie
        .strip_prefix(name)
        .and_then(|c| c.strip_prefix('='))
        .and_then(|c| c.split(';').next())
}

/// The attributes of a `Set-Cookie`, trimmed.
fn attributes(set_cookie: &str) -> Vec<&str> {
    set_cookie.split(';').skip(1).map(str::trim).collect()
}

fn session_cookie(response: &reqwest::Response) -> String {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap())
        .find_map(|c| c.strip_prefix("keyport_session="))
        .and_then(|c| c.split(';').next())
        .expect("a session cookie")
        .to_owned()
}

async fn problem(response: reqwest::Response) -> (u16, String, String) {
    let status = response.status().as_u16();
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let body: Value = response.json().await.unwrap();
    (
        status,
        body["code"].as_str().unwrap().to_owned(),
        body["detail"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn alice_logs_in_with_the_user_role_and_logout_ends_the_session_and_the_providers() {
    let Some(sso) = start(&[]).await else { return };
    let config: Value = reqwest::get(sso.url("/api/v1/config"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(config["oidc_enabled"], true);

    let alice = browser();
    let back = sso.login(&alice, "alice").await;
    assert_eq!(back.status(), 303);
    assert_eq!(back.headers()[LOCATION], "/keys");
    assert_eq!(back.headers()["cache-control"], "no-store");
    let cookie = session_cookie(&back);

    let (status, me) = sso.me(&alice).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["user"]["username"], "alice");
    assert_eq!(me["user"]["email"], "alice@example.test");
    assert_eq!(me["user"]["display_name"], "Alice Liddell");
    assert_eq!(me["user"]["roles"], serde_json::json!(["user"]));
    assert_eq!(me["auth"], "session");
    // LiteLLM knows the new user (under keyport's id), without a key of its own.
    let user_id = me["user"]["id"].as_str().unwrap();
    let in_litellm = sso
        .double
        .user(user_id)
        .expect("the user exists in LiteLLM");
    assert_eq!(in_litellm.user_email.as_deref(), Some("alice@example.test"));
    assert!(sso.double.keys().is_empty());

    // A second login is the same user, not a new one.
    let again = browser();
    assert_eq!(sso.login(&again, "alice").await.status(), 303);
    assert_eq!(sso.me(&again).await.1["user"]["id"], user_id);

    let csrf = me["csrf_token"].as_str().unwrap();
    let out = alice
        .post(sso.url("/api/v1/auth/logout"))
        .header("x-csrf-token", csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 200);
    let body: Value = out.json().await.unwrap();
    let logout_url = body["logout_url"].as_str().expect("the provider's logout");
    assert!(
        logout_url.starts_with(&format!("{}/session/end?", sso.provider.issuer)),
        "{logout_url}"
    );
    assert!(logout_url.contains("id_token_hint="), "{logout_url}");
    assert!(
        logout_url.contains("post_logout_redirect_uri="),
        "{logout_url}"
    );
    // The provider accepts it (its logout confirmation, not an error page).
    let page = alice.get(logout_url).send().await.unwrap();
    assert_eq!(page.status(), 200);

    // The old cookie no longer works, even presented by hand.
    let replayed = reqwest::Client::new()
        .get(sso.url("/api/v1/me"))
        .header(COOKIE, format!("keyport_session={cookie}"))
        .send()
        .await
        .unwrap();
    assert_eq!(replayed.status(), 401);
    assert_eq!(sso.me(&alice).await.0, 401);
}

#[tokio::test]
async fn roles_come_from_groups_and_only_allowed_groups_may_log_in() {
    let Some(sso) = start(&[
        ("KEYPORT_OIDC_AUDITOR_GROUPS", "keyport-auditors"),
        (
            "KEYPORT_OIDC_ALLOWED_GROUPS",
            "keyport-users,keyport-admins",
        ),
    ])
    .await
    else {
        return;
    };
    let root = browser();
    assert_eq!(sso.login(&root, "root").await.status(), 303);
    let (_, me) = sso.me(&root).await;
    assert_eq!(me["user"]["roles"], serde_json::json!(["user", "admin"]));

    let audrey = browser();
    assert_eq!(sso.login(&audrey, "audrey").await.status(), 303);
    let (_, me) = sso.me(&audrey).await;
    assert_eq!(me["user"]["roles"], serde_json::json!(["user", "auditor"]));

    // eve is in no allowed group: refused, and not created.
    let eve = browser();
    let (status, code, detail) = problem(sso.login(&eve, "eve").await).await;
    assert_eq!(
        (status, code.as_str()),
        (403, "login-forbidden"),
        "{detail}"
    );
    assert_eq!(sso.me(&eve).await.0, 401);
    assert!(
        sso.double
            .users()
            .iter()
            .all(|u| u.user_email.as_deref() != Some("eve@example.test")),
        "eve was not created in LiteLLM"
    );

    // A browser (asking for HTML) is sent to the login page with the code instead.
    let eve = browser();
    let back = sso.provider_redirect(&eve, "eve").await;
    let r = eve
        .get(back)
        .header(ACCEPT, "text/html,application/xhtml+xml")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()[LOCATION], "/login?error=login-forbidden");
}

#[tokio::test]
async fn tokens_for_another_audience_expired_or_with_another_nonce_are_refused() {
    let Some(sso) = start(&[]).await else { return };
    for (mode, words) in [
        (TokenMode::ForeignAudience, "another client"),
        (TokenMode::Expired, "expired"),
        (TokenMode::WrongNonce, "nonce"),
        (TokenMode::BadSignature, "signature"),
    ] {
        sso.provider.set_token_mode(mode).await;
        let b = browser();
        let (status, code, detail) = problem(sso.login(&b, "alice").await).await;
        assert_eq!((status, code.as_str()), (401, "login-rejected"), "{mode:?}");
        assert!(detail.contains(words), "{mode:?}: {detail}");
        assert_eq!(sso.me(&b).await.0, 401, "{mode:?}: no session");
    }
    // Nobody was created by the refused logins.
    sso.provider.set_token_mode(TokenMode::Normal).await;
    assert!(sso.double.users().is_empty());
    let b = browser();
    assert_eq!(sso.login(&b, "alice").await.status(), 303);
}

#[tokio::test]
async fn a_replayed_or_forged_state_is_refused() {
    let Some(sso) = start(&[]).await else { return };
    let b = browser();
    let back = sso.provider_redirect(&b, "alice").await;
    assert_eq!(b.get(&back).send().await.unwrap().status(), 303);
    // The same callback again (a replay, or a second tab): the state is gone.
    let (status, code, _) = problem(browser().get(&back).send().await.unwrap()).await;
    assert_eq!((status, code.as_str()), (400, "login-state-invalid"));

    let forged_states = [
        // Well-formed but never issued.
        "kp_state_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA000000".to_owned(),
        "garbage".to_owned(),
        String::new(),
    ];
    for state in forged_states {
        let r = browser()
            .get(sso.url(&format!("/api/v1/auth/callback?code=stolen&state={state}")))
            .send()
            .await
            .unwrap();
        let (status, code, _) = problem(r).await;
        assert_eq!(
            (status, code.as_str()),
            (400, "login-state-invalid"),
            "{state}"
        );
    }
    // The provider's own error comes back with a valid state: rejected, and that state is used up.
    let start = b.get(sso.url("/api/v1/auth/login")).send().await.unwrap();
    let to_provider = url::Url::parse(start.headers()[LOCATION].to_str().unwrap()).unwrap();
    let state = to_provider
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let denied = sso.url(&format!(
        "/api/v1/auth/callback?error=access_denied&state={state}"
    ));
    let (status, code, detail) = problem(b.get(&denied).send().await.unwrap()).await;
    assert_eq!((status, code.as_str()), (401, "login-rejected"));
    assert!(detail.contains("access_denied"), "{detail}");
    let (_, code, _) = problem(b.get(&denied).send().await.unwrap()).await;
    assert_eq!(code, "login-state-invalid");
}

#[tokio::test]
async fn the_login_cookie_is_httponly_for_ten_minutes_and_cleared_by_the_callback() {
    let Some(sso) = start(&[]).await else { return };
    let b = browser();
    let (to_provider, login_cookie) = sso.begin(&b).await;
    let binding = cookie_value(&login_cookie, "keyport_login").expect("the login cookie");
    assert!(binding.starts_with("kp_login_"), "{login_cookie}");
    let attrs = attributes(&login_cookie);
    for wanted in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=600"] {
        assert!(attrs.contains(&wanted), "{wanted} in {login_cookie}");
    }
    // Plain-HTTP loopback (development): no Secure, so no __Host- prefix either; never a Domain.
    assert!(!attrs.contains(&"Secure"), "{login_cookie}");
    assert!(
        !attrs
            .iter()
            .any(|a| a.to_ascii_lowercase().starts_with("domain")),
        "{login_cookie}"
    );
    // The binding secret never travels to the provider.
    assert!(!to_provider.contains(binding), "{to_provider}");

    let back = log_in_at_provider(&b, &to_provider, "alice", &sso.redirect).await;
    let done = b.get(&back).send().await.unwrap();
    assert_eq!(done.status(), 303);
    let cookies = set_cookies(&done);
    let cleared = cookies
        .iter()
        .find(|c| c.starts_with("keyport_login="))
        .expect("the login cookie is cleared");
    assert_eq!(cookie_value(cleared, "keyport_login"), Some(""));
    assert!(attributes(cleared).contains(&"Max-Age=0"), "{cleared}");
    assert!(attributes(cleared).contains(&"Path=/"), "{cleared}");
    assert!(cookies.iter().any(|c| c.starts_with("keyport_session=")));
    assert!(cookies.iter().any(|c| c.starts_with("keyport_csrf=")));
    assert_eq!(sso.me(&b).await.0, 200);
}

#[tokio::test]
async fn a_callback_without_the_login_cookie_is_refused_and_uses_up_the_state() {
    let Some(sso) = start(&[]).await else { return };
    let b = browser();
    let back = sso.provider_redirect(&b, "alice").await;
    // The callback URL opened by a client that never started this login (a leaked or logged URL, or
    // a victim made to open the attacker's): no login cookie.
    let stranger = browser();
    let (status, code, detail) = problem(stranger.get(&back).send().await.unwrap()).await;
    assert_eq!(
        (status, code.as_str()),
        (400, "login-browser-mismatch"),
        "{detail}"
    );
    assert_eq!(sso.me(&stranger).await.0, 401);
    // The state is used up: not even the browser that started the login can finish it now.
    let (status, code, _) = problem(b.get(&back).send().await.unwrap()).await;
    assert_eq!((status, code.as_str()), (400, "login-state-invalid"));
    assert_eq!(sso.me(&b).await.0, 401);
    assert!(sso.double.users().is_empty(), "nobody was created");
    // Sent by hand, a made-up or empty login cookie does no better.
    for forged in ["kp_login_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA000000", ""] {
        let back = sso.provider_redirect(&browser(), "alice").await;
        let r = reqwest::Client::new()
            .get(&back)
            .header(COOKIE, format!("keyport_login={forged}"))
            .send()
            .await
            .unwrap();
        let (status, code, _) = problem(r).await;
        assert_eq!(
            (status, code.as_str()),
            (400, "login-browser-mismatch"),
            "{forged:?}"
        );
    }
}

#[tokio::test]
async fn login_csrf_with_another_browsers_login_cookie_is_refused() {
    let Some(sso) = start(&[]).await else { return };
    // The attacker logs in at the provider as themself and keeps the redirect back instead of following
    // it.
    let attacker = browser();
    let attackers_back = sso.provider_redirect(&attacker, "eve").await;
    // The victim's browser has a login cookie of its own (it started a login, still at the provider).
    let victim = browser();
    let (victims_login, _) = sso.begin(&victim).await;
    // The attacker makes the victim's browser open their callback (a link, an image, a redirect).
    let (status, code, _) = problem(victim.get(&attackers_back).send().await.unwrap()).await;
    assert_eq!((status, code.as_str()), (400, "login-browser-mismatch"));
    assert_eq!(
        sso.me(&victim).await.0,
        401,
        "the victim is not logged in as eve"
    );
    assert!(
        sso.double
            .users()
            .iter()
            .all(|u| u.user_email.as_deref() != Some("eve@example.test")),
        "nobody was logged in"
    );
    // A browser navigating is sent to the login page with the code.
    let attackers_back = sso.provider_redirect(&attacker, "eve").await;
    let r = victim
        .get(&attackers_back)
        .header(ACCEPT, "text/html,application/xhtml+xml")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()[LOCATION], "/login?error=login-browser-mismatch");
    // The refused callbacks left the victim's own login alone: it finishes as the victim.
    let back = log_in_at_provider(&victim, &victims_login, "alice", &sso.redirect).await;
    assert_eq!(victim.get(&back).send().await.unwrap().status(), 303);
    let (status, me) = sso.me(&victim).await;
    assert_eq!(status, 200);
    assert_eq!(me["user"]["username"], "alice");
}

#[tokio::test]
async fn over_https_every_cookie_is_host_prefixed_and_unprefixed_ones_are_ignored() {
    // The production profile with an https public URL; the test talks plain HTTP to the loopback port and
    // carries the cookies by hand (as the TLS-terminating proxy in front would pass them).
    let Some(sso) = start(&[
        ("KEYPORT_PROFILE", "production"),
        ("KEYPORT_PUBLIC_URL", "https://keyport.test"),
    ])
    .await
    else {
        return;
    };
    let b = browser();
    let (to_provider, login_cookie) = sso.begin(&b).await;
    let binding = cookie_value(&login_cookie, "__Host-keyport_login")
        .expect("the __Host- login cookie")
        .to_owned();
    let attrs = attributes(&login_cookie);
    for wanted in [
        "Secure",
        "HttpOnly",
        "Path=/",
        "SameSite=Lax",
        "Max-Age=600",
    ] {
        assert!(attrs.contains(&wanted), "{wanted} in {login_cookie}");
    }
    assert!(
        !attrs
            .iter()
            .any(|a| a.to_ascii_lowercase().starts_with("domain")),
        "{login_cookie}"
    );
    let back = sso.local(&log_in_at_provider(&b, &to_provider, "alice", &sso.redirect).await);

    // The unprefixed name (which a sibling subdomain or a plain-HTTP answer could have planted) is not
    // read: refused, and the state is used up.
    let r = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(&back)
        .header(COOKIE, format!("keyport_login={binding}"))
        .send()
        .await
        .unwrap();
    let (status, code, _) = problem(r).await;
    assert_eq!((status, code.as_str()), (400, "login-browser-mismatch"));

    // The whole login again, with the __Host- cookie.
    let (to_provider, login_cookie) = sso.begin(&b).await;
    let binding = cookie_value(&login_cookie, "__Host-keyport_login")
        .unwrap()
        .to_owned();
    let back = sso.local(&log_in_at_provider(&b, &to_provider, "alice", &sso.redirect).await);
    let done = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(&back)
        .header(COOKIE, format!("__Host-keyport_login={binding}"))
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 303);
    let cookies = set_cookies(&done);
    for name in [
        "__Host-keyport_session",
        "__Host-keyport_csrf",
        "__Host-keyport_login",
    ] {
        let cookie = cookies
            .iter()
            .find(|c| c.starts_with(&format!("{name}=")))
            .unwrap_or_else(|| panic!("{name} in {cookies:?}"));
        let attrs = attributes(cookie);
        assert!(attrs.contains(&"Secure"), "{cookie}");
        assert!(attrs.contains(&"Path=/"), "{cookie}");
        assert!(
            !attrs
                .iter()
                .any(|a| a.to_ascii_lowercase().starts_with("domain")),
            "{cookie}"
        );
    }
    assert!(
        !cookies.iter().any(|c| c.starts_with("keyport_")),
        "no unprefixed cookie: {cookies:?}"
    );
    let session = cookies
        .iter()
        .find_map(|c| cookie_value(c, "__Host-keyport_session"))
        .unwrap()
        .to_owned();
    let me = |cookie: String| {
        let url = sso.url("/api/v1/me");
        async move {
            reqwest::Client::new()
                .get(url)
                .header(COOKIE, cookie)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(me(format!("__Host-keyport_session={session}")).await, 200);
    // The same session under the unprefixed name is not read.
    assert_eq!(me(format!("keyport_session={session}")).await, 401);
}

#[tokio::test]
async fn a_suspended_user_cannot_log_in() {
    let Some(sso) = start(&[]).await else { return };
    assert_eq!(sso.login(&browser(), "alice").await.status(), 303);
    let out = common::keyport(&sso.db, sso.db.url(), &sso.double)
        .args(["admin", "suspend-user", "alice"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (status, code, detail) = problem(sso.login(&browser(), "alice").await).await;
    assert_eq!((status, code.as_str()), (403, "login-forbidden"));
    assert!(detail.contains("suspended"), "{detail}");
}

#[tokio::test]
async fn brute_force_on_the_callback_is_limited_per_address() {
    let Some(sso) = start(&[("KEYPORT_LOGIN_RATE_PER_MINUTE", "5")]).await else {
        return;
    };
    let mut statuses = Vec::new();
    for n in 0..12 {
        let r = browser()
            .get(sso.url(&format!(
                "/api/v1/auth/callback?code=guess{n}&state=kp_state_guess{n}"
            )))
            .send()
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
        if r.status() == 429 {
            assert_eq!(r.headers()["content-type"], "application/problem+json");
            assert!(r.headers().contains_key("retry-after"));
        }
    }
    assert_eq!(&statuses[..5], [400; 5], "{statuses:?}");
    assert!(statuses[5..].iter().all(|s| *s == 429), "{statuses:?}");
    // The limit holds for the whole login, not only for forged callbacks.
    let r = browser()
        .get(sso.url("/api/v1/auth/login"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
}

#[tokio::test]
async fn keyport_does_not_start_when_the_issuer_is_unreachable() {
    let db = TestDb::new().await;
    let double = LiteLlmDouble::start(DoubleConfig::demo()).await.unwrap();
    let dead = format!("http://127.0.0.1:{}", free_port());
    let mut cmd = common::keyport(&db, db.url(), &double);
    cmd.env("KEYPORT_OIDC_ISSUER", &dead)
        .env("KEYPORT_OIDC_CLIENT_ID", CLIENT_ID)
        .env("KEYPORT_OIDC_CLIENT_SECRET", "never-printed-secret")
        .args(["serve", "--bind", "127.0.0.1:0"]);
    // Off the runtime's thread: the LiteLLM double runs on it and keyport calls it before discovery.
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("identity provider"), "{stderr}");
    assert!(stderr.contains(&dead), "{stderr}");
    assert!(!stderr.contains("never-printed-secret"), "{stderr}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("never-printed-secret"));
}
