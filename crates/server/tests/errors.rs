//! Bad input gets a 4xx problem+json naming the field, never a 500 and never a half-done change.

mod common;

use common::http::decode;
use common::App;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use serde_json::json;

#[tokio::test]
async fn requests_without_a_valid_token_are_401_problems() {
    let app = App::start().await;
    for auth in [
        None,
        Some("Bearer nope"),
        Some("Bearer kp_pat_00000000000000000000000000000000000000"),
        Some("Basic abc"),
    ] {
        let mut req = app.client.get(app.url("/api/v1/api-keys"));
        if let Some(a) = auth {
            req = req.header(AUTHORIZATION, a);
        }
        let response = req.send().await.unwrap();
        assert_eq!(
            response.headers().get("www-authenticate").unwrap(),
            "Bearer"
        );
        let (status, body) = decode(response).await;
        assert_eq!(status, 401);
        assert_eq!(body["type"], "urn:keyport:problem:unauthenticated");
    }
}

#[tokio::test]
async fn malformed_bodies_are_4xx_naming_the_field() {
    let app = App::start().await;
    let token = app.create_user("alice", false);
    let sub = app.subscribe(&token, "gpt-4o-mini").await;
    let send = |body: String, content_type: &'static str| {
        app.client
            .post(app.url("/api/v1/api-keys"))
            .header(AUTHORIZATION, format!("Bearer {token}"))
            .header(CONTENT_TYPE, content_type)
            .body(body)
            .send()
    };
    let cases = [
        (r#"{"name": "k""#.to_owned(), "application/json", 400, None),
        (
            r#"{"name": 5, "subscription_ids": []}"#.to_owned(),
            "application/json",
            422,
            Some("name"),
        ),
        (
            format!(r#"{{"name": "k", "subscription_ids": ["{sub}"], "colour": "red"}}"#),
            "application/json",
            422,
            Some("colour"),
        ),
        (
            r#"{"name": "k", "subscription_ids": ["not-a-uuid"]}"#.to_owned(),
            "application/json",
            422,
            Some("subscription_ids[0]"),
        ),
        // Found by schemathesis: an array was read as a struct of defaults, and a NUL reached PostgreSQL.
        ("[]".to_owned(), "application/json", 422, Some("body")),
        (
            format!(r#"{{"name": "k\u0000", "subscription_ids": ["{sub}"]}}"#),
            "application/json",
            422,
            Some("body"),
        ),
        (
            r#"{"subscription_ids": []}"#.to_owned(),
            "application/json",
            422,
            Some("name"),
        ),
        (
            format!(
                r#"{{"name": "k", "subscription_ids": ["{sub}"], "limits": {{"rpm_limit": -1}}}}"#
            ),
            "application/json",
            422,
            Some("limits.rpm_limit"),
        ),
        (
            format!(
                r#"{{"name": "k", "subscription_ids": ["{sub}"], "limits": {{"max_budget": "-1"}}}}"#
            ),
            "application/json",
            422,
            Some("limits.max_budget"),
        ),
        (
            format!(
                r#"{{"name": "k", "subscription_ids": ["{sub}"], "limits": {{"budget_duration": "forever"}}}}"#
            ),
            "application/json",
            422,
            Some("limits.budget_duration"),
        ),
        (
            format!(
                r#"{{"name": "k", "subscription_ids": ["{sub}"], "limits": {{"budget_duration": "1d"}}}}"#
            ),
            "application/json",
            422,
            Some("limits.budget_duration"),
        ),
        (
            format!(
                r#"{{"name": "k", "subscription_ids": ["{sub}"], "expires_at": "2001-01-01T00:00:00Z"}}"#
            ),
            "application/json",
            422,
            Some("expires_at"),
        ),
        (r#"{"name": "k"}"#.to_owned(), "text/plain", 415, None),
        (
            format!(
                r#"{{"name": "{}", "subscription_ids": []}}"#,
                "x".repeat(70_000)
            ),
            "application/json",
            413,
            None,
        ),
    ];
    for (body, content_type, expected, field) in cases {
        let (status, problem) = decode(send(body.clone(), content_type).await.unwrap()).await;
        assert_eq!(
            status,
            expected,
            "{} -> {problem}",
            &body[..body.len().min(120)]
        );
        assert!(
            problem["type"]
                .as_str()
                .unwrap()
                .starts_with("urn:keyport:problem:"),
            "{problem}"
        );
        assert_eq!(problem["field"].as_str(), field, "{problem}");
    }
    assert!(
        app.double.keys().is_empty(),
        "no refused request reached LiteLLM"
    );
    assert_eq!(
        app.get(&token, "/api/v1/api-keys").await.1["items"],
        json!([]),
        "nothing recorded"
    );
}

#[tokio::test]
async fn a_second_live_key_with_the_same_name_is_a_conflict_on_name() {
    let app = App::start().await;
    let token = app.create_user("alice", false);
    let sub = app.subscribe(&token, "gpt-4o-mini").await;
    let body = json!({"name": "ci", "subscription_ids": [sub]});
    assert_eq!(
        app.post(&token, "/api/v1/api-keys", body.clone()).await.0,
        201
    );
    let (status, problem) = app.post(&token, "/api/v1/api-keys", body).await;
    assert_eq!(
        (status, problem["field"].as_str()),
        (409, Some("name")),
        "{problem}"
    );
    assert_eq!(app.double.keys().len(), 1);
}

#[tokio::test]
async fn a_nul_in_an_api_path_or_query_is_refused_before_the_database() {
    let app = App::start().await;
    let token = app.create_user("root", true);
    for (path, field) in [
        ("/api/v1/admin/audit?limit=5&action=a%00b", "action"),
        ("/api/v1/admin/subscriptions?model_id=%00", "model_id"),
        ("/api/v1/models/gpt%00", "path"),
    ] {
        let (status, body) = app.get(&token, path).await;
        assert_eq!(
            (status, body["code"].as_str(), body["field"].as_str()),
            (422, Some("validation"), Some(field)),
            "{path}: {body}"
        );
    }
}

#[tokio::test]
async fn unknown_routes_and_wrong_methods_are_problems_and_ui_paths_never_reach_the_api() {
    let app = App::start().await;
    let token = app.create_user("alice", false);
    let (status, body) = app.get(&token, "/api/v1/nothing-here").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("route-not-found"))
    );
    let response = app
        .client
        .put(app.url("/api/v1/api-keys"))
        .header(AUTHORIZATION, format!("Bearer {token}"))
        .send()
        .await
        .unwrap();
    // RFC 9110: a 405 lists the methods the resource answers.
    let allow = response
        .headers()
        .get("allow")
        .map(|v| v.to_str().unwrap().to_owned());
    let (status, body) = decode(response).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (405, Some("method-not-allowed")),
        "{body}"
    );
    assert_eq!(allow.as_deref(), Some("GET, POST"), "{body}");
    assert_eq!(
        app.get(&token, "/api-keys/123").await.0,
        200,
        "a UI route is served by the UI"
    );
    assert_eq!(app.get(&token, "/api/v1/api-keys/not-a-uuid").await.0, 404);
}

#[tokio::test]
async fn the_openapi_document_and_health_endpoints_are_served() {
    let app = App::start().await;
    let doc: serde_json::Value = app
        .client
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["paths"]["/api/v1/api-keys"]["post"].is_object());
    assert_eq!(
        app.client
            .get(app.url("/api/docs"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        app.client
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("keyport_jobs{state=\"dead\"} 0"),
        "{metrics}"
    );
    assert!(
        metrics.contains("# TYPE keyport_reconcile_fixes_total counter"),
        "{metrics}"
    );
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
}

/// The values of `attribute="..."` in `html`.
fn attribute_values<'a>(html: &'a str, attribute: &str) -> Vec<&'a str> {
    let needle = format!(" {attribute}=\"");
    html.match_indices(&needle)
        .filter_map(|(at, _)| {
            let rest = &html[at + needle.len()..];
            rest.find('"').map(|end| &rest[..end])
        })
        .collect()
}

/// `/api/docs` is keyport's own page under the web app's Content-Security-Policy: every script and link on it
/// is on keyport's origin and is served, no script is inline. With the web app built (`just web-build`; the
/// e2e run renders it in Chromium) it is the API reference and its pinned script; without, a page pointing at
/// the OpenAPI document. Either way, never a CDN.
#[tokio::test]
async fn the_api_docs_page_is_keyports_own_under_the_csp_and_loads_nothing_from_elsewhere() {
    let app = App::start().await;
    let answer = app.client.get(app.url("/api/docs")).send().await.unwrap();
    assert_eq!(answer.status(), 200);
    let header = |name: &str| {
        answer
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    assert_eq!(header("content-type"), "text/html; charset=utf-8");
    let csp = header("content-security-policy");
    assert!(csp.contains("script-src 'self';"), "{csp}");
    assert!(csp.contains("connect-src 'self'"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(!csp.contains("unsafe-eval"), "{csp}");
    let html = answer.text().await.unwrap();
    assert!(!html.contains("://"), "no other origin is named: {html}");
    assert!(html.contains("/api/v1/openapi.json"), "{html}");

    // No inline script: each script element loads a file, or is a data block (never executed) that is empty.
    for element in html.split("<script").skip(1) {
        let (tag, rest) = element.split_once('>').unwrap();
        let content = rest.split("</script>").next().unwrap();
        assert!(
            tag.contains(" src=\"") || tag.contains("type=\"application/json\""),
            "an inline script: <script{tag}>"
        );
        assert!(content.trim().is_empty(), "an inline script: {content}");
    }
    let scripts = attribute_values(&html, "src");
    for url in scripts
        .iter()
        .chain(attribute_values(&html, "href").iter())
        .chain(attribute_values(&html, "data-url").iter())
    {
        assert!(
            url.starts_with('/') && !url.starts_with("//"),
            "{url} is not on keyport's origin"
        );
    }
    for script in &scripts {
        let served = app.client.get(app.url(script)).send().await.unwrap();
        assert_eq!(served.status(), 200, "{script}");
        let content_type = served.headers()[CONTENT_TYPE].to_str().unwrap().to_owned();
        assert!(
            content_type.starts_with("text/javascript"),
            "{script}: {content_type}"
        );
        assert!(!served.bytes().await.unwrap().is_empty(), "{script}");
    }
    if scripts.is_empty() {
        assert!(
            html.contains("<a href=\"/api/v1/openapi.json\">"),
            "without the web app, a link to the document: {html}"
        );
    }
}

#[tokio::test]
async fn every_answer_says_nosniff_and_readiness_names_what_failed_without_its_error_text() {
    let app = App::start().await;
    for path in [
        "/healthz",
        "/readyz",
        "/api/v1/models",
        "/api/v1/no-such-route",
        "/",
        "/keys",
    ] {
        let answer = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(
            answer
                .headers()
                .get("x-content-type-options")
                .and_then(|v| v.to_str().ok()),
            Some("nosniff"),
            "{path} answered {} without nosniff",
            answer.status()
        );
        // Plain http here: no HSTS (it would pin browsers to https on a host that has none).
        assert!(
            answer.headers().get("strict-transport-security").is_none(),
            "{path}"
        );
    }

    app.double.inject(
        keyport_testkit::double::Fault::Status(503)
            .on("/health/readiness")
            .always(),
    );
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["status"], "not ready");
    let checks = body["checks"].as_array().unwrap();
    assert!(
        checks.iter().any(|c| c["ok"] == false),
        "a failed check is named: {body}"
    );
    for check in checks {
        assert_eq!(
            check.as_object().unwrap().keys().collect::<Vec<_>>(),
            ["name", "ok"],
            "no error text in the answer: {body}"
        );
    }
}

#[tokio::test]
async fn behind_an_https_public_url_every_answer_asks_browsers_for_https_only() {
    let app = App::start_with_env(
        keyport_testkit::double::DoubleConfig::demo(),
        &[("KEYPORT_PUBLIC_URL", "https://keyport.example.com")],
    )
    .await;
    for path in ["/healthz", "/api/v1/models", "/"] {
        let answer = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(
            answer
                .headers()
                .get("strict-transport-security")
                .and_then(|v| v.to_str().ok()),
            Some(keyport_api::HSTS),
            "{path}"
        );
    }
}

#[tokio::test]
async fn with_a_metrics_token_the_metrics_answer_only_its_bearer() {
    let app = App::start_with_env(
        keyport_testkit::double::DoubleConfig::demo(),
        &[("KEYPORT_METRICS_TOKEN", "scrape-me-0123456789")],
    )
    .await;
    let get = |auth: Option<&'static str>| {
        let mut request = app.client.get(app.url("/metrics"));
        if let Some(auth) = auth {
            request = request.header(AUTHORIZATION, auth);
        }
        request.send()
    };
    assert_eq!(get(None).await.unwrap().status(), 401);
    assert_eq!(get(Some("Bearer wrong")).await.unwrap().status(), 401);
    let ok = get(Some("Bearer scrape-me-0123456789")).await.unwrap();
    assert_eq!(ok.status(), 200);
    assert!(ok.text().await.unwrap().contains("keyport_jobs"));
}
