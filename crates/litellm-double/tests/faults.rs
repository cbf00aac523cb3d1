//! Fault injection: each fault does what it says, on the calls it is armed for.

mod common;

use common::{client, start, MASTER};
use keyport_litellm_double::Fault;
use serde_json::json;
use std::time::{Duration, Instant};

#[tokio::test]
async fn a_status_fault_hits_the_next_n_matching_calls_only() {
    let double = start().await;
    let c = client(&double);
    double.inject(Fault::Status(503).on("/key/list").times(2));
    assert_eq!(
        c.admin_get("/model/info").await.status,
        200,
        "other paths untouched"
    );
    let a = c.admin_get("/key/list").await;
    assert_eq!((a.status, a.body.as_str()), (503, "Service Unavailable"));
    assert_eq!(c.admin_get("/key/list").await.status, 503);
    assert_eq!(c.admin_get("/key/list").await.status, 200);
    double.inject(Fault::Status(500).on("/key/list"));
    let a = c.admin_get("/key/list").await;
    assert_eq!(
        (a.status, a.body.as_str()),
        (
            500,
            r#"{"error":{"message":"Internal server error","type":"internal_server_error"}}"#
        )
    );
}

#[tokio::test]
async fn an_nth_fault_hits_only_that_call() {
    let double = start().await;
    let c = client(&double);
    double.inject(Fault::Status(502).on("/health/readiness").nth(2));
    let statuses = [
        c.get("/health/readiness", None).await.status,
        c.get("/health/readiness", None).await.status,
        c.get("/health/readiness", None).await.status,
    ];
    assert_eq!(statuses, [200, 502, 200]);
    assert_eq!(double.calls_to("/health/readiness"), 3);
}

#[tokio::test]
async fn latency_delays_the_answer() {
    let double = start().await;
    let c = client(&double);
    double.inject(Fault::Latency(Duration::from_millis(300)).on("/health/liveliness"));
    let started = Instant::now();
    assert_eq!(c.get("/health/liveliness", None).await.status, 200);
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn a_timeout_never_answers_and_does_not_run_the_route() {
    let double = start().await;
    double.inject(Fault::Timeout.on("/key/generate"));
    let http = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let err = http
        .post(format!("{}/key/generate", double.base_url()))
        .bearer_auth(MASTER)
        .body("{}")
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert!(double.keys().is_empty());
}

#[tokio::test]
async fn a_dropped_connection_gives_no_answer_at_all() {
    let double = start().await;
    double.inject(Fault::DropConnection.on("/key/generate"));
    let err = reqwest::Client::new()
        .post(format!("{}/key/generate", double.base_url()))
        .bearer_auth(MASTER)
        .body("{}")
        .send()
        .await
        .unwrap_err();
    assert!(!err.is_timeout() && err.status().is_none(), "{err:?}");
    assert!(double.keys().is_empty());
}

#[tokio::test]
async fn commit_then_drop_performs_the_change_and_loses_the_answer() {
    let double = start().await;
    double.inject(Fault::CommitThenDrop.on("/key/generate"));
    let result = reqwest::Client::new()
        .post(format!("{}/key/generate", double.base_url()))
        .bearer_auth(MASTER)
        .body(json!({"key_alias": "lost"}).to_string())
        .send()
        .await;
    assert!(result.is_err(), "{result:?}");
    assert!(double.key_by_alias("lost").is_some());
}

#[tokio::test]
async fn a_canned_answer_replays_any_body() {
    let double = start().await;
    let c = client(&double);
    double.inject(
        Fault::Respond {
            status: 500,
            content_type: "text/plain".to_owned(),
            body: "Internal Server Error".to_owned(),
        }
        .on("/key/info"),
    );
    let a = c.admin_get("/key/info?key=x").await;
    assert_eq!((a.status, a.body.as_str()), (500, "Internal Server Error"));
}
