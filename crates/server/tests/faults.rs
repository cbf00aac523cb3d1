//! The create and revoke flows under the double's injectable faults: each ends in the state
//! docs/lifecycle.md#invariants promises, seen both through keyport's API and in LiteLLM's (the double's)
//! state.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] functions: a failed unwrap or panic is a failed test"
)]

mod common;

use common::App;
use keyport_testkit::double::{DoubleConfig, Fault};
use serde_json::{json, Value};
use std::time::Duration;

async fn setup(env: &[(&str, &str)]) -> (App, String, String) {
    let app = App::start_with_env(DoubleConfig::demo(), env).await;
    let token = app.create_user("alice", false);
    let sub = app.subscribe(&token, "gpt-4o-mini").await;
    (app, token, sub)
}

async fn create(app: &App, token: &str, sub: &str) -> (u16, Value) {
    app.post(
        token,
        "/api/v1/api-keys",
        json!({"name": "k", "subscription_ids": [sub]}),
    )
    .await
}

async fn only_key(app: &App, token: &str) -> Value {
    let (_, list) = app.get(token, "/api/v1/api-keys").await;
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{list}");
    items[0].clone()
}

#[tokio::test]
async fn a_5xx_on_generate_with_no_key_behind_it_marks_the_key_failed() {
    let (app, token, sub) = setup(&[]).await;
    app.double
        .inject(Fault::Status(500).on("/key/generate").times(1));
    let (status, problem) = create(&app, &token, &sub).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (503, Some("litellm-unavailable")),
        "{problem}"
    );
    assert_eq!(only_key(&app, &token).await["status"], "failed");
    assert!(app.double.keys().is_empty());
    assert_eq!(
        app.double.calls_to("/key/generate"),
        1,
        "never generated twice"
    );
}

#[tokio::test]
async fn a_key_created_whose_answer_was_lost_is_found_by_hash_and_activated() {
    let (app, token, sub) = setup(&[]).await;
    app.double
        .inject(Fault::CommitThenDrop.on("/key/generate").times(1));
    let (status, created) = create(&app, &token, &sub).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["key"]["status"], "active");
    assert_eq!(app.double.keys().len(), 1);
    assert_eq!(
        app.double.calls_to("/key/generate"),
        1,
        "never generated twice"
    );
    let (status, _) = app
        .chat(created["secret"].as_str().unwrap(), "gpt-4o-mini")
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_refusal_by_litellm_marks_the_key_failed_and_says_why() {
    let (app, token, sub) = setup(&[]).await;
    app.double.inject(
        Fault::json(400, r#"{"error": {"message": "{'error': 'Invalid budget'}", "type": "internal_server_error", "param": null, "code": "400"}}"#)
            .on("/key/generate")
            .times(1),
    );
    let (status, problem) = create(&app, &token, &sub).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (502, Some("litellm-rejected")),
        "{problem}"
    );
    // LiteLLM's own words go to keyport's log, not to the caller.
    let detail = problem["detail"].as_str().unwrap();
    assert!(!detail.contains("Invalid budget"), "{detail}");
    assert!(detail.contains("keyport's log"), "{detail}");
    assert_eq!(only_key(&app, &token).await["status"], "failed");
    assert!(app.double.keys().is_empty());
}

#[tokio::test]
async fn when_litellm_stops_answering_after_creating_the_key_the_row_stays_provisioning_for_the_reconciler(
) {
    let (app, token, sub) = setup(&[("KEYPORT_LITELLM_TIMEOUT_SECS", "1")]).await;
    app.double
        .inject(Fault::CommitThenTimeout.on("/key/generate").times(1));
    app.double.inject(Fault::Timeout.on("/key/info").always());
    let (status, problem) = create(&app, &token, &sub).await;
    assert_eq!(status, 503, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("removed automatically"),
        "{problem}"
    );
    let key = only_key(&app, &token).await;
    assert_eq!(
        key["status"], "provisioning",
        "nobody has the secret; the reconciler cleans it up"
    );
    assert_eq!(
        app.double.keys().len(),
        1,
        "LiteLLM holds the key keyport records as provisioning"
    );
    assert_eq!(app.double.keys()[0].metadata["keyport_key_id"], key["id"]);
}

#[tokio::test]
async fn a_revocation_while_litellm_is_down_stays_pending_and_completes_when_retried() {
    let (app, token, sub) = setup(&[("KEYPORT_LITELLM_TIMEOUT_SECS", "1")]).await;
    let (_, created) = create(&app, &token, &sub).await;
    let id = created["key"]["id"].as_str().unwrap().to_owned();
    let secret = created["secret"].as_str().unwrap().to_owned();
    app.double
        .inject(Fault::Status(503).on("/key/delete").always());
    let (status, key) = app.delete(&token, &format!("/api/v1/api-keys/{id}")).await;
    assert_eq!(status, 200, "{key}");
    assert_eq!(
        (key["status"].as_str(), key["revocation_pending"].as_bool()),
        (Some("revoked"), Some(true))
    );
    assert!(key["last_sync_error"].is_string());
    assert_eq!(
        app.get(&token, &format!("/api/v1/api-keys/{id}")).await.1["revocation_pending"],
        true
    );

    app.double.clear_faults();
    tokio::time::sleep(Duration::from_millis(10)).await;
    let (status, key) = app.delete(&token, &format!("/api/v1/api-keys/{id}")).await;
    assert_eq!(
        (status, key["revocation_pending"].as_bool()),
        (200, Some(false)),
        "{key}"
    );
    assert!(app.double.keys().is_empty());
    assert_eq!(app.chat(&secret, "gpt-4o-mini").await.0, 401);
}

#[tokio::test]
async fn latency_below_the_timeout_only_slows_creation_down() {
    let (app, token, sub) = setup(&[("KEYPORT_LITELLM_TIMEOUT_SECS", "2")]).await;
    app.double.inject(
        Fault::Latency(Duration::from_millis(500))
            .on("/key/generate")
            .times(1),
    );
    let (status, created) = create(&app, &token, &sub).await;
    assert_eq!(
        (status, created["key"]["status"].as_str()),
        (201, Some("active")),
        "{created}"
    );
    assert_eq!(app.double.keys().len(), 1);
}

#[tokio::test]
async fn a_dropped_connection_or_a_timeout_before_litellm_acted_ends_failed_after_checking_by_hash()
{
    for fault in [Fault::DropConnection, Fault::Timeout] {
        let (app, token, sub) = setup(&[("KEYPORT_LITELLM_TIMEOUT_SECS", "1")]).await;
        app.double.inject(fault.on("/key/generate").times(1));
        let (status, problem) = create(&app, &token, &sub).await;
        assert_eq!(
            (status, problem["code"].as_str()),
            (503, Some("litellm-unavailable")),
            "{problem}"
        );
        assert_eq!(only_key(&app, &token).await["status"], "failed");
        assert!(app.double.keys().is_empty());
        assert_eq!(
            app.double.calls_to("/key/generate"),
            1,
            "never generated twice"
        );
        assert!(
            app.double.calls_to("/key/info") >= 1,
            "the outcome was checked by hash"
        );
    }
}

#[tokio::test]
async fn a_lost_answer_after_a_dropped_connection_is_found_by_hash() {
    let (app, token, sub) = setup(&[]).await;
    app.double
        .inject(Fault::CommitThenDrop.on("/key/generate").nth(1));
    let (status, created) = create(&app, &token, &sub).await;
    assert_eq!(
        (status, created["key"]["status"].as_str()),
        (201, Some("active")),
        "{created}"
    );
    assert_eq!(app.double.calls_to("/key/generate"), 1);
}
