//! Access control through the real binary: the route × role × owner matrix, built from the server's own
//! OpenAPI document (so a new route without a rule fails here), token scopes, CSRF on cookie-authenticated
//! changes, and the per-address limit on failed authentications.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::App;
use keyport_api::authz::{rule_for, Access, RULES};
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
    common::decode(request.send().await.unwrap()).await
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

    // Every documented route has a rule, and every rule a documented route.
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
            let rule = rule_for(&actix_method, path).unwrap_or_else(|| {
                panic!("{method} {path} has no rule in keyport_api::authz::RULES")
            });
            routes.push((method, path.clone(), rule.access));
        }
    }
    for rule in RULES {
        assert!(
            routes
                .iter()
                .any(|(m, p, _)| m.as_str() == rule.method && p == rule.path),
            "rule for a route that does not exist: {rule:?}"
        );
    }
    assert!(routes.len() >= RULES.len());

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
            } else if owned(path) && !who.starts_with("alice") && !who.starts_with("root") {
                // A user's own things are invisible to other users and to auditors (who read through the
                // admin routes); administrators may act on them.
                assert_eq!(
                    status, 404,
                    "{method} {path} as {who} (someone else's): {answer}"
                );
            } else if owned(path) && who.starts_with("root") {
                assert!(
                    ![401, 403].contains(&status) && status < 500,
                    "{method} {path} as {who} got {status}: {answer}"
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
    // While the address waits, even a valid token is turned away: guesses cannot be mixed with real calls.
    let (status, problem) = app.get(&real, "/api/v1/api-keys").await;
    assert_eq!(status, 429, "{problem}");
    assert_eq!(problem["type"], "urn:keyport:problem:rate-limited");
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
