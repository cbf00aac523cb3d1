//! Single sign-on through the real binary against a real OpenID Connect provider (tests/oidc-provider,
//! node-oidc-provider 9 on loopback), driven over HTTP with a cookie-keeping client and no browser: login,
//! group → role mapping, allowed groups, every refused token (audience, expiry, nonce), replayed and forged
//! states, suspension, logout through the provider, and the per-address limit on the callback.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use keyport_oidc::testing::{
    browser, log_in_at_provider, TestProvider, TokenMode, CLIENT_ID, CLIENT_SECRET,
};
use keyport_testkit::double::{DoubleConfig, LiteLlmDouble};
use keyport_testkit::TestDb;
use reqwest::header::{ACCEPT, COOKIE, LOCATION, SET_COOKIE};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

struct Sso {
    base: String,
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

fn keyport(db: &TestDb, double: &LiteLlmDouble) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_keyport"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("DATABASE_URL", db.url())
        .env("LITELLM_URL", double.base_url())
        .env("LITELLM_MASTER_KEY", double.master_key())
        .env("KEYPORT_LOG", "warn")
        .env("KEYPORT_DB_POOL_SIZE", "4");
    cmd
}

/// keyport with single sign-on through a fresh test provider (admins: `keyport-admins`), plus `env`.
/// `None` when node is missing (the harness has said so loudly).
async fn start(env: &[(&str, &str)]) -> Option<Sso> {
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let redirect = format!("{base}/api/v1/auth/callback");
    let provider = TestProvider::start(&redirect).await?;
    let db = TestDb::new().await;
    let double = LiteLlmDouble::start(DoubleConfig::demo()).await.unwrap();
    let mut child = keyport(&db, &double)
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
    let stdout = child.stdout.take().unwrap();
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        line
    })
    .await
    .unwrap();
    assert!(
        line.starts_with("keyport listening on "),
        "keyport did not start: {line:?}"
    );
    Some(Sso {
        base,
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

    /// Starts a login at keyport and goes through the provider's form as `account`; answers the URL of
    /// the provider's redirect back to keyport (not yet called).
    async fn provider_redirect(&self, browser: &reqwest::Client, account: &str) -> String {
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
        log_in_at_provider(browser, &to_provider, account, &self.redirect).await
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
async fn a_suspended_user_cannot_log_in() {
    let Some(sso) = start(&[]).await else { return };
    assert_eq!(sso.login(&browser(), "alice").await.status(), 303);
    let out = keyport(&sso.db, &sso.double)
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
    let mut cmd = keyport(&db, &double);
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
