//! Access control through the real binary: the route × role × owner matrix, built from the server's own
//! OpenAPI document (so a new route without a rule fails here), token scopes, CSRF on cookie-authenticated
//! changes, and the per-address limit on failed authentications (counted after authenticating, so valid
//! credentials always pass, and shared by replicas through the database).

#![expect(
    clippy::expect_used,
    clippy::panic,
    clippy::unwrap_used,
    reason = "test helpers outside #[test] functions: a failed unwrap or panic is a failed test"
)]

mod common;

use common::App;
use keyport_api::authz::Access;
use keyport_api::openapi::rules;
use keyport_testkit::double::DoubleConfig;
use reqwest::header::{AUTHORIZATION, COOKIE, SET_COOKIE};
use reqwest::Method;
use serde_json::{json, Value};

const DEV_ENV: &[(&str, &str)] = &[
    ("KEYPORT_PROFILE", "development"),
    ("KEYPORT_DEV_LOGIN", "true"),
    ("KEYPORT_LOGIN_RATE_PER_MINUTE", "0"),
    ("KEYPORT_AUTH_FAILURES_PER_MINUTE", "0"),
];

/// A browser session: its cookie and CSRF token.
#[derive(Debug, Clone)]
struct Session {
    cookie: String,
    csrf: String,
    user_id: String,
}

async fn dev_login(app: &App, username: &str, role: &str) -> Session {
    let r = app
        .client
        .post(app.url("/api/v1/auth/dev-login"))
        .json(&json!({"username": username, "role": role}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "dev login as {username}");
    let cookies: Vec<String> = r
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let session = cookies
        .iter()
        .find(|c| c.starts_with("keyport_session="))
        .expect("a session cookie");
    assert!(session.contains("HttpOnly"), "{session}");
    assert!(session.contains("SameSite=Lax"), "{session}");
    let value = session
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("keyport_session=")
        .to_owned();
    let body: Value = r.json().await.unwrap();
    Session {
        cookie: value,
        csrf: body["csrf_token"].as_str().unwrap().to_owned(),
        user_id: body["user"]["id"].as_str().unwrap().to_owned(),
    }
}

async fn send(
    app: &App,
    session: Option<&Session>,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = app.client.request(method.clone(), app.url(path));
    if let Some(s) = session {
        request = request
            .header(COOKIE, format!("keyport_session={}", s.cookie))
            .header("X-CSRF-Token", &s.csrf);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    common::http::decode(request.send().await.unwrap()).await
}

/// What alice owns, fresh for each route so that one route's change cannot disturb the next.
struct Fixtures {
    subscription: String,
    key: String,
    token: String,
}

async fn fixtures(app: &App, alice: &Session) -> Fixtures {
    let (status, body) = send(
        app,
        Some(alice),
        Method::POST,
        "/api/v1/subscriptions",
        Some(json!({"model_id": "gpt-4o-mini"})),
    )
    .await;
    let subscription = if status == 201 {
        body["id"].as_str().unwrap().to_owned()
    } else {
        let (_, list) = send(app, Some(alice), Method::GET, "/api/v1/subscriptions", None).await;
        let sub = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["model_id"] == "gpt-4o-mini")
            .unwrap()
            .clone();
        if sub["status"] != "active" {
            panic!("alice's subscription is {sub}");
        }
        sub["id"].as_str().unwrap().to_owned()
    };
    let (status, key) = send(
        app,
        Some(alice),
        Method::POST,
        "/api/v1/api-keys",
        Some(json!({"name": format!("k-{}", rand_suffix()), "subscription_ids": [subscription]})),
    )
    .await;
    assert_eq!(status, 201, "{key}");
    let (status, token) = send(
        app,
        Some(alice),
        Method::POST,
        "/api/v1/access-tokens",
        Some(json!({"name": "matrix", "scopes": ["read"]})),
    )
    .await;
    assert_eq!(status, 201, "{token}");
    Fixtures {
        subscription,
        key: key["key"]["id"].as_str().unwrap().to_owned(),
        token: token["id"].as_str().unwrap().to_owned(),
    }
}

fn rand_suffix() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed).to_string()
}

/// The path with its parameters filled: alice's resources for the routes that take them, another user's
/// id for user routes, a model id for models.
fn concrete(path: &str, f: &Fixtures, target_user: &str) -> String {
    let id = if path.starts_with("/api/v1/api-keys/") || path.starts_with("/api/v1/admin/api-keys/")
    {
        f.key.clone()
    } else if path.starts_with("/api/v1/subscriptions/")
        || path.starts_with("/api/v1/admin/subscriptions/")
    {
        f.subscription.clone()
    } else if path.starts_with("/api/v1/access-tokens/") {
        f.token.clone()
    } else if path.starts_with("/api/v1/models/") || path.starts_with("/api/v1/admin/models/") {
        "gpt-4o-mini".to_owned()
    } else if path.starts_with("/api/v1/admin/users/") {
        target_user.to_owned()
    } else {
        "00000000-0000-7000-8000-000000000000".to_owned()
    };
    let mut out = String::new();
    let mut rest = path;
    while let Some(open) = rest.find('{') {
        let close = rest[open..].find('}').unwrap() + open;
        out.push_str(&rest[..open]);
        out.push_str(&id);
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}

/// Whether a route acts on one resource that has an owner (a user's key, subscription or token).
fn owned(path: &str) -> bool {
    [
        "/api/v1/api-keys/{",
        "/api/v1/subscriptions/{",
        "/api/v1/access-tokens/{",
    ]
    .iter()
    .any(|p| path.starts_with(p))
}

#[tokio::test]
async fn every_route_answers_every_role_as_the_authorization_table_says() {
    let app = App::start_with_env(DoubleConfig::demo(), DEV_ENV).await;
    let (status, document) = send(&app, None, Method::GET, "/api/v1/openapi.json", None).await;
    assert_eq!(status, 200);

    // Every documented route has a rule, and every rule a documented route. The rules are the ones the
    // handlers declare (`x-keyport-access`), read from the API crate's document like the server does.
    let rules = rules();
    let mut routes = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        if !path.starts_with("/api/") {
            continue;
        }
        for method in item.as_object().unwrap().keys() {
            let Ok(method) = method.to_ascii_uppercase().parse::<Method>() else {
                continue;
            };
            let actix_method =
                actix_web::http::Method::from_bytes(method.as_str().as_bytes()).unwrap();
            let rule = rules.rule_for(&actix_method, path).unwrap_or_else(|| {
                panic!(
                    "{method} {path} declares no access (x-keyport-access in its #[utoipa::path])"
                )
            });
            routes.push((method, path.clone(), rule.access));
        }
    }
    for rule in rules.rules() {
        assert!(
            routes
                .iter()
                .any(|(m, p, _)| m.as_str() == rule.method && *p == rule.path),
            "rule for a route that does not exist: {rule:?}"
        );
    }
    assert!(routes.len() >= rules.rules().len());

    let target = dev_login(&app, "carol", "user").await;
    let mut checked = 0;
    for (method, path, access) in &routes {
        // Fresh sessions (a route may be logout) and fresh resources for every route.
        // A new owner per route: the matrix saves the settings too (PUT /admin/settings with `{}`),
        // which brings back the default cap of 20 live keys per user.
        let alice = dev_login(&app, &format!("alice-{}", routes.len() + checked), "user").await;
        let bob = dev_login(&app, "bob", "user").await;
        let auditor = dev_login(&app, "audrey", "auditor").await;
        let admin = dev_login(&app, "root", "admin").await;
        let f = fixtures(&app, &alice).await;
        let url = concrete(path, &f, &target.user_id);
        let body = (*method != Method::GET && *method != Method::DELETE).then(|| json!({}));

        let (status, answer) = send(&app, None, method.clone(), &url, body.clone()).await;
        if *access == Access::Public {
            assert!(
                ![401, 403].contains(&status),
                "{method} {path} is public, anonymous got {status}: {answer}"
            );
            checked += 1;
            continue;
        }
        assert_eq!(status, 401, "{method} {path} anonymous: {answer}");

        let cases: [(&str, &Session, bool); 4] = [
            ("bob (user, not the owner)", &bob, *access == Access::Member),
            ("audrey (auditor)", &auditor, *access != Access::Admin),
            ("root (admin)", &admin, true),
            ("alice (user, the owner)", &alice, *access == Access::Member),
        ];
        for (who, session, allowed) in cases {
            let (status, answer) =
                send(&app, Some(session), method.clone(), &url, body.clone()).await;
            if !allowed {
                assert_eq!(status, 403, "{method} {path} as {who}: {answer}");
                assert!(
                    answer["type"] == "urn:keyport:problem:forbidden",
                    "{method} {path} as {who}: {answer}"
                );
            } else if owned(path) && !who.starts_with("alice") {
                // The member routes act for the owner only: a user's own things are invisible there to
                // other users, to auditors and to administrators alike, who read and act through the
                // `/admin` routes.
                assert_eq!(
                    status, 404,
                    "{method} {path} as {who} (someone else's): {answer}"
                );
                assert_eq!(
                    answer["type"], "urn:keyport:problem:not-found",
                    "{method} {path} as {who}: as if it did not exist: {answer}"
                );
            } else {
                assert!(
                    !([401, 403].contains(&status) || (owned(path) && status == 404)),
                    "{method} {path} as {who} got {status}: {answer}"
                );
                assert!(
                    status < 500,
                    "{method} {path} as {who} got {status}: {answer}"
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= routes.len() * 4 / 2, "{checked}");
}

#[tokio::test]
async fn member_routes_act_for_the_owner_only_and_admins_act_on_others_keys_through_admin_routes() {
    let app = App::start_with_env(DoubleConfig::demo(), DEV_ENV).await;
    let alice = dev_login(&app, "alice", "user").await;
    let bob = dev_login(&app, "bob", "user").await;
    let auditor = dev_login(&app, "audrey", "auditor").await;
    let admin = dev_login(&app, "root", "admin").await;
    let f = fixtures(&app, &alice).await;
    let key = format!("/api/v1/api-keys/{}", f.key);
    let theirs = format!("/api/v1/admin/api-keys/{}", f.key);

    // Someone else's key on a member route: "not found", as an unknown key, for a member, an auditor and
    // an administrator alike; nothing changes.
    let member_routes = [
        (Method::GET, key.clone(), None),
        (Method::PATCH, key.clone(), Some(json!({"name": "taken"}))),
        (Method::POST, format!("{key}/rotate"), Some(json!({}))),
        (Method::POST, format!("{key}/revoke"), Some(json!({}))),
        (Method::DELETE, key.clone(), None),
    ];
    for who in [&bob, &auditor, &admin] {
        for (method, path, body) in &member_routes {
            let (status, answer) = send(&app, Some(who), method.clone(), path, body.clone()).await;
            assert_eq!(status, 404, "{method} {path}: {answer}");
            assert_eq!(answer["type"], "urn:keyport:problem:not-found", "{answer}");
        }
    }
    let (status, mine) = send(&app, Some(&alice), Method::GET, &key, None).await;
    assert_eq!(
        (status, mine["status"].as_str(), mine["blocked"].as_bool()),
        (200, Some("active"), Some(false)),
        "{mine}"
    );

    // The admin routes: members are refused, auditors read but do not act, administrators act.
    let admin_routes = [
        (Method::GET, theirs.clone(), None, 200),
        (
            Method::POST,
            format!("{theirs}/block"),
            Some(json!({"reason": "matrix"})),
            200,
        ),
        (
            Method::POST,
            format!("{theirs}/unblock"),
            Some(json!({})),
            200,
        ),
        (
            Method::PUT,
            format!("{theirs}/limits"),
            Some(json!({"limits": {"rpm_limit": 5}})),
            200,
        ),
        (
            Method::POST,
            format!("{theirs}/revoke"),
            Some(json!({"reason": "matrix"})),
            200,
        ),
    ];
    for (method, path, body, admin_status) in &admin_routes {
        for who in [&alice, &bob] {
            let (status, answer) = send(&app, Some(who), method.clone(), path, body.clone()).await;
            assert_eq!(status, 403, "{method} {path} as a member: {answer}");
        }
        let (status, answer) = send(&app, Some(&auditor), method.clone(), path, body.clone()).await;
        let auditor_status = if *method == Method::GET { 200 } else { 403 };
        assert_eq!(
            status, auditor_status,
            "{method} {path} as an auditor: {answer}"
        );
        let (status, answer) = send(&app, Some(&admin), method.clone(), path, body.clone()).await;
        assert_eq!(
            status, *admin_status,
            "{method} {path} as an admin: {answer}"
        );
        assert!(answer.get("secret").is_none(), "never a secret: {answer}");
        assert_eq!(answer["owner_username"], "alice", "{answer}");
    }
}

#[tokio::test]
async fn a_read_token_only_reads_and_a_write_token_does_both() {
    let app = App::start_with_env(DoubleConfig::demo(), DEV_ENV).await;
    let full = app.create_user("dana", false);
    let (status, created) = app
        .post(
            &full,
            "/api/v1/access-tokens",
            json!({"name": "reader", "scopes": ["read"], "expires_in_days": 30}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let reader = created["secret"].as_str().unwrap().to_owned();
    assert_eq!(created["scopes"], json!(["read"]));

    let (status, _) = app.get(&reader, "/api/v1/api-keys").await;
    assert_eq!(status, 200);
    let (status, problem) = app
        .post(
            &reader,
            "/api/v1/subscriptions",
            json!({"model_id": "gpt-4o-mini"}),
        )
        .await;
    assert_eq!(status, 403, "{problem}");
    assert_eq!(problem["type"], "urn:keyport:problem:insufficient-scope");
    let (status, _) = app
        .post(
            &full,
            "/api/v1/subscriptions",
            json!({"model_id": "gpt-4o-mini"}),
        )
        .await;
    assert_eq!(status, 201);

    // The list shows the tokens without secrets; revoking one stops it at once.
    let (_, list) = app.get(&full, "/api/v1/access-tokens").await;
    assert!(!list.to_string().contains(&reader));
    let id = created["id"].as_str().unwrap();
    let (status, revoked) = app
        .post(
            &full,
            &format!("/api/v1/access-tokens/{id}/revoke"),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{revoked}");
    assert_eq!(revoked["status"], "revoked");
    let (status, _) = app.get(&reader, "/api/v1/api-keys").await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn a_cookie_session_needs_its_csrf_token_for_changes_and_ends_at_logout() {
    let app = App::start_with_env(DoubleConfig::demo(), DEV_ENV).await;
    let (_, config) = send(&app, None, Method::GET, "/api/v1/config", None).await;
    assert_eq!(config["dev_login"], true);
    let alice = dev_login(&app, "alice", "user").await;

    let (status, me) = send(&app, Some(&alice), Method::GET, "/api/v1/me", None).await;
    assert_eq!(status, 200);
    assert_eq!(me["user"]["username"], "alice");
    assert_eq!(me["auth"], "session");
    assert_eq!(me["csrf_token"], alice.csrf.as_str());

    for csrf in ["", "0000", alice.csrf.to_uppercase().as_str()] {
        let forged = Session {
            csrf: csrf.to_owned(),
            ..alice.clone()
        };
        let (status, problem) = send(
            &app,
            Some(&forged),
            Method::POST,
            "/api/v1/subscriptions",
            Some(json!({"model_id": "gpt-4o-mini"})),
        )
        .await;
        assert_eq!(status, 403, "csrf '{csrf}': {problem}");
        assert_eq!(problem["type"], "urn:keyport:problem:csrf");
    }
    let (status, _) = send(
        &app,
        Some(&alice),
        Method::POST,
        "/api/v1/subscriptions",
        Some(json!({"model_id": "gpt-4o-mini"})),
    )
    .await;
    assert_eq!(status, 201);

    let r = app
        .client
        .post(app.url("/api/v1/auth/logout"))
        .header(COOKIE, format!("keyport_session={}", alice.cookie))
        .header("X-CSRF-Token", &alice.csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let cleared: Vec<_> = r.headers().get_all(SET_COOKIE).iter().collect();
    assert!(cleared
        .iter()
        .any(|c| c.to_str().unwrap().starts_with("keyport_session=;")));
    let (status, _) = send(&app, Some(&alice), Method::GET, "/api/v1/me", None).await;
    assert_eq!(
        status, 401,
        "the session ended on the server, not only in the browser"
    );
}

#[tokio::test]
async fn the_development_login_is_off_unless_turned_on() {
    let app = App::start().await;
    let (_, config) = send(&app, None, Method::GET, "/api/v1/config", None).await;
    assert_eq!(config["dev_login"], false);
    let (status, problem) = send(
        &app,
        None,
        Method::POST,
        "/api/v1/auth/dev-login",
        Some(json!({"username": "root", "role": "admin"})),
    )
    .await;
    assert_eq!(status, 404, "{problem}");
    assert_eq!(problem["type"], "urn:keyport:problem:dev-login-disabled");

    // The production profile (the default) refuses to start with it.
    let (ok, _, stderr) = app.cli(&["serve", "--bind", "127.0.0.1:0", "--dev-login"]);
    assert!(!ok);
    assert!(stderr.contains("production profile"), "{stderr}");
}

#[tokio::test]
async fn guessing_tokens_from_one_address_is_slowed_down() {
    let app = App::start_with_env(
        DoubleConfig::demo(),
        &[("KEYPORT_AUTH_FAILURES_PER_MINUTE", "5")],
    )
    .await;
    let real = app.create_user("erin", false);
    let mut statuses = Vec::new();
    for i in 0..8 {
        let r = app
            .client
            .get(app.url("/api/v1/api-keys"))
            .header(AUTHORIZATION, format!("Bearer kp_pat_guess{i}"))
            .send()
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
        if r.status() == 429 {
            assert!(r.headers().get("retry-after").is_some());
        }
    }
    assert_eq!(&statuses[..5], &[401; 5], "{statuses:?}");
    assert_eq!(&statuses[5..], &[429; 3], "{statuses:?}");
    // While the address waits, a valid token from it still works (a NAT or a proxy that is not trusted
    // must not let one broken script lock everyone out), and another guess is still refused.
    for _ in 0..3 {
        let (status, body) = app.get(&real, "/api/v1/api-keys").await;
        assert_eq!(status, 200, "{body}");
    }
    let r = app
        .client
        .get(app.url("/api/v1/api-keys"))
        .header(AUTHORIZATION, "Bearer kp_pat_guess9")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    let wait: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    let (_, problem) = common::http::decode(r).await;
    assert_eq!(problem["type"], "urn:keyport:problem:rate-limited");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("failed authentications"),
        "{problem}"
    );
    // Asking without any credential guesses nothing: a plain 401, not counted.
    let r = app.client.get(app.url("/api/v1/me")).send().await.unwrap();
    assert_eq!(r.status(), 401);
}

/// A second `keyport serve` on an app's database and LiteLLM double (migrations already applied).
struct Replica {
    base: String,
    child: std::process::Child,
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Replica {
    async fn start(app: &App, env: &[(&str, &str)]) -> Replica {
        use std::process::{Command, Stdio};
        let mut child = Command::new(env!("CARGO_BIN_EXE_keyport"))
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("DATABASE_URL", app.db.url())
            .env("LITELLM_URL", app.double.base_url())
            .env("LITELLM_MASTER_KEY", app.double.master_key())
            .env("KEYPORT_LOG", "warn")
            .env("KEYPORT_DB_POOL_SIZE", "4")
            .env("KEYPORT_NO_MIGRATE", "true")
            .envs(env.iter().copied())
            .args([
                "serve",
                "--bind",
                "127.0.0.1:0",
                "--workers",
                "1",
                "--sync-interval-secs",
                "0",
                "--job-workers",
                "0",
                "--reconcile-interval-secs",
                "0",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the replica starts");
        let base = common::listening_address(&mut child).await;
        Replica { base, child }
    }
}

#[tokio::test]
async fn replicas_over_one_database_share_the_failure_count() {
    let limit = [("KEYPORT_AUTH_FAILURES_PER_MINUTE", "4")];
    let app = App::start_with_env(DoubleConfig::demo(), &limit).await;
    let replica = Replica::start(&app, &limit).await;
    let real = app.create_user("erin", false);
    let guess = |base: &str| {
        app.client
            .get(format!("{base}/api/v1/api-keys"))
            .header(AUTHORIZATION, "Bearer kp_pat_guess")
            .send()
    };
    let mut statuses = Vec::new();
    for base in [&app.base, &app.base, &replica.base, &replica.base] {
        statuses.push(guess(base).await.unwrap().status().as_u16());
    }
    assert_eq!(statuses, [401; 4], "four failures, two on each replica");
    // Each replica alone has seen only two of its four, yet both now refuse: the count is shared.
    assert_eq!(guess(&app.base).await.unwrap().status(), 429);
    assert_eq!(guess(&replica.base).await.unwrap().status(), 429);
    // And neither refuses the valid token from the same address.
    for base in [&app.base, &replica.base] {
        let r = app
            .client
            .get(format!("{base}/api/v1/api-keys"))
            .header(AUTHORIZATION, format!("Bearer {real}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_client_is_limited_on_its_own() {
    let app = App::start_with_env(
        DoubleConfig::demo(),
        &[
            ("KEYPORT_AUTH_FAILURES_PER_MINUTE", "3"),
            ("KEYPORT_TRUSTED_PROXIES", "127.0.0.1"),
        ],
    )
    .await;
    let guess = |client: &'static str| {
        app.client
            .get(app.url("/api/v1/api-keys"))
            .header(AUTHORIZATION, "Bearer kp_pat_guess")
            .header("X-Forwarded-For", client)
            .send()
    };
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(guess("198.51.100.1").await.unwrap().status().as_u16());
    }
    assert_eq!(statuses, [401, 401, 401, 429]);
    // Another client behind the same proxy is not punished for the first one's guesses.
    assert_eq!(guess("198.51.100.2").await.unwrap().status(), 401);
}
