//! The durable key lifecycle through the real binary: rotation with and without overlap, updates, the
//! cascade of a cancelled subscription, and the job worker finishing what LiteLLM refused the first time.

#![expect(
    clippy::panic,
    reason = "test helpers outside #[test] functions: a failed unwrap or panic is a failed test"
)]

mod common;

use common::{eventually, App};
use keyport_testkit::double::{DoubleConfig, Fault};
use serde_json::json;
use std::time::Duration;

const FAST_WORKERS: &[(&str, &str)] = &[
    ("KEYPORT_JOB_POLL_MS", "100"),
    ("KEYPORT_LITELLM_TIMEOUT_SECS", "2"),
];

async fn setup() -> (App, String, String) {
    let app = App::start_with_env(DoubleConfig::demo(), FAST_WORKERS).await;
    let token = app.create_user("alice", false);
    let sub = app.subscribe(&token, "gpt-4o-mini").await;
    (app, token, sub)
}

/// LiteLLM's record of a keyport key.
fn remote_key(app: &App, key_id: &str) -> keyport_testkit::double::KeyRecord {
    app.double
        .keys()
        .into_iter()
        .find(|k| k.metadata["keyport_key_id"] == key_id)
        .unwrap_or_else(|| panic!("LiteLLM has no key {key_id}"))
}

#[tokio::test]
async fn a_rotated_key_stays_its_owners_in_litellm_and_an_admin_cannot_rotate_it() {
    let (app, token, sub) = setup().await;
    let root = app.create_user("root", true);
    let (old_id, _) = app
        .create_key(&token, json!({"name": "ci", "subscription_ids": [sub]}))
        .await;
    let (_, me) = app.get(&token, "/api/v1/me").await;
    let alice_id = me["user"]["id"].as_str().unwrap().to_owned();
    let (_, root_me) = app.get(&root, "/api/v1/me").await;
    let root_id = root_me["user"]["id"].as_str().unwrap().to_owned();
    let before = remote_key(&app, &old_id);
    assert_eq!(before.user_id.as_deref(), Some(alice_id.as_str()));

    // An administrator is not the owner: the member route does not know the key, and no secret is made.
    let keys_before = app.double.keys().len();
    let (status, problem) = app
        .post(
            &root,
            &format!("/api/v1/api-keys/{old_id}/rotate"),
            json!({}),
        )
        .await;
    assert_eq!(status, 404, "{problem}");
    assert!(problem.get("secret").is_none());
    assert_eq!(app.double.keys().len(), keys_before, "nothing generated");

    let (status, rotated) = app
        .post(
            &token,
            &format!("/api/v1/api-keys/{old_id}/rotate"),
            json!({}),
        )
        .await;
    assert_eq!(status, 201, "{rotated}");
    let new_id = rotated["key"]["id"].as_str().unwrap();
    let after = remote_key(&app, new_id);
    assert_eq!(
        after.user_id.as_deref(),
        Some(alice_id.as_str()),
        "LiteLLM's user_id is the owner's"
    );
    assert_ne!(after.user_id.as_deref(), Some(root_id.as_str()));
    assert_eq!(after.team_id, before.team_id, "the owner's team");
    assert_eq!(after.metadata["keyport_user_id"], alice_id.as_str());
}

#[tokio::test]
async fn rotating_without_overlap_stops_the_old_key_at_once_and_the_new_one_works() {
    let (app, token, sub) = setup().await;
    let (old_id, old_secret) = app
        .create_key(&token, json!({"name": "ci", "subscription_ids": [sub]}))
        .await;
    let (status, rotated) = app
        .post(
            &token,
            &format!("/api/v1/api-keys/{old_id}/rotate"),
            json!({}),
        )
        .await;
    assert_eq!(status, 201, "{rotated}");
    let new_secret = rotated["secret"].as_str().unwrap();
    assert_ne!(new_secret, old_secret);
    assert_eq!(rotated["key"]["name"], "ci", "same name");
    assert_eq!(rotated["key"]["subscription_ids"], json!([sub]));
    assert_eq!(app.chat(new_secret, "gpt-4o-mini").await.0, 200);
    assert_eq!(
        app.chat(&old_secret, "gpt-4o-mini").await.0,
        401,
        "the old key stopped at once"
    );
    let (_, old) = app.get(&token, &format!("/api/v1/api-keys/{old_id}")).await;
    assert_eq!(old["status"], "revoked");
    assert_eq!(old["replaced_by"], rotated["key"]["id"]);
}

#[tokio::test]
async fn rotating_with_overlap_keeps_the_old_key_until_the_deadline_then_deletes_it() {
    let (app, token, sub) = setup().await;
    let (old_id, old_secret) = app
        .create_key(&token, json!({"name": "ci", "subscription_ids": [sub]}))
        .await;
    let (status, rotated) = app
        .post(
            &token,
            &format!("/api/v1/api-keys/{old_id}/rotate"),
            json!({"overlap_seconds": 2}),
        )
        .await;
    assert_eq!(status, 201, "{rotated}");
    let (_, old) = app.get(&token, &format!("/api/v1/api-keys/{old_id}")).await;
    assert_eq!(old["status"], "retiring");
    assert!(old["retire_at"].is_string());
    assert_eq!(
        app.chat(&old_secret, "gpt-4o-mini").await.0,
        200,
        "both keys work during the overlap"
    );
    assert_eq!(
        app.chat(rotated["secret"].as_str().unwrap(), "gpt-4o-mini")
            .await
            .0,
        200
    );
    let stopped = eventually(Duration::from_secs(10), || async {
        app.chat(&old_secret, "gpt-4o-mini").await.0 == 401
    })
    .await;
    assert!(stopped, "the worker deletes the old key after its deadline");
    let (_, old) = app.get(&token, &format!("/api/v1/api-keys/{old_id}")).await;
    assert_eq!(old["status"], "revoked");
    let (status, problem) = app
        .post(
            &token,
            &format!("/api/v1/api-keys/{old_id}/rotate"),
            json!({"overlap_seconds": 99999999}),
        )
        .await;
    assert_eq!(
        (status, problem["field"].as_str()),
        (422, Some("overlap_seconds"))
    );
}

#[tokio::test]
async fn updating_a_key_changes_its_limits_and_models_in_litellm() {
    let (app, token, sub) = setup().await;
    let claude = app.subscribe(&token, "claude-3-5-sonnet").await;
    let (id, secret) = app
        .create_key(&token, json!({"name": "ci", "subscription_ids": [sub]}))
        .await;
    assert_eq!(app.chat(&secret, "claude-3-5-sonnet").await.0, 403);

    let (status, key) = app
        .client
        .patch(app.url(&format!("/api/v1/api-keys/{id}")))
        .bearer_auth(&token)
        .json(&json!({"subscription_ids": [sub, claude], "limits": {"max_budget": "5", "rpm_limit": 100}, "name": "ci-2"}))
        .send()
        .await
        .map(common::http::decode)
        .unwrap()
        .await;
    assert_eq!(status, 200, "{key}");
    assert_eq!(key["name"], "ci-2");
    assert_eq!(key["models"], json!(["claude-3-5-sonnet", "gpt-4o-mini"]));
    assert_eq!(key["sync_state"], "synced");
    let stored = &app.double.keys()[0];
    assert_eq!(stored.max_budget, Some(5.0));
    assert_eq!(stored.rpm_limit, Some(100));
    let mut models = stored.models.clone();
    models.sort();
    assert_eq!(models, ["claude-3-5-sonnet", "gpt-4o-mini"]);
    assert_eq!(app.chat(&secret, "claude-3-5-sonnet").await.0, 200);

    let (status, key) = app
        .client
        .patch(app.url(&format!("/api/v1/api-keys/{id}")))
        .bearer_auth(&token)
        .json(&json!({"limits": {}}))
        .send()
        .await
        .map(common::http::decode)
        .unwrap()
        .await;
    assert_eq!(status, 200, "{key}");
    assert_eq!(app.double.keys()[0].max_budget, None, "unlimited again");
}

#[tokio::test]
async fn cancelling_a_subscription_removes_its_model_from_keys_and_revokes_keys_left_without_one() {
    let (app, token, sub) = setup().await;
    let claude = app.subscribe(&token, "claude-3-5-sonnet").await;
    let (only_id, only_secret) = app
        .create_key(&token, json!({"name": "only", "subscription_ids": [sub]}))
        .await;
    let (both_id, both_secret) = app
        .create_key(
            &token,
            json!({"name": "both", "subscription_ids": [sub, claude]}),
        )
        .await;

    let (status, body) = app
        .post(
            &token,
            &format!("/api/v1/subscriptions/{sub}/cancel"),
            json!({}),
        )
        .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("cancelled")),
        "{body}"
    );

    let (_, only) = app
        .get(&token, &format!("/api/v1/api-keys/{only_id}"))
        .await;
    assert_eq!(only["status"], "revoked");
    assert_eq!(app.chat(&only_secret, "gpt-4o-mini").await.0, 401);
    let (_, both) = app
        .get(&token, &format!("/api/v1/api-keys/{both_id}"))
        .await;
    assert_eq!(
        (both["status"].as_str(), both["models"].clone()),
        (Some("active"), json!(["claude-3-5-sonnet"]))
    );
    assert_eq!(
        app.chat(&both_secret, "gpt-4o-mini").await.0,
        403,
        "the cancelled model is gone from the key"
    );
    assert_eq!(app.chat(&both_secret, "claude-3-5-sonnet").await.0, 200);
    for key in app.double.keys() {
        assert!(!key.models.is_empty(), "never models: [] in LiteLLM");
    }
}

#[tokio::test]
async fn a_revocation_litellm_refused_is_finished_by_the_worker_without_anyone_asking_again() {
    let (app, token, sub) = setup().await;
    let (id, secret) = app
        .create_key(&token, json!({"name": "ci", "subscription_ids": [sub]}))
        .await;
    app.double
        .inject(Fault::Status(503).on("/key/delete").always());
    let (status, key) = app.delete(&token, &format!("/api/v1/api-keys/{id}")).await;
    assert_eq!(
        (status, key["revocation_pending"].as_bool()),
        (200, Some(true)),
        "{key}"
    );
    app.double.clear_faults();
    let done = eventually(Duration::from_secs(20), || async {
        app.get(&token, &format!("/api/v1/api-keys/{id}")).await.1["revocation_pending"] == false
    })
    .await;
    assert!(done, "the job retried the deletion");
    assert!(app.double.keys().is_empty());
    assert_eq!(app.chat(&secret, "gpt-4o-mini").await.0, 401);
}

#[tokio::test]
async fn a_job_that_keeps_failing_dies_and_administrators_see_it_with_its_error() {
    let env = [
        ("KEYPORT_JOB_POLL_MS", "100"),
        ("KEYPORT_LITELLM_TIMEOUT_SECS", "1"),
        ("KEYPORT_JOB_MAX_ATTEMPTS", "1"),
    ];
    let app = App::start_with_env(DoubleConfig::demo(), &env).await;
    let token = app.create_user("alice", false);
    let admin = app.create_user("root", true);
    let sub = app.subscribe(&token, "gpt-4o-mini").await;
    let (id, _) = app
        .create_key(&token, json!({"name": "ci", "subscription_ids": [sub]}))
        .await;
    app.double
        .inject(Fault::Status(503).on("/key/delete").always());
    app.delete(&token, &format!("/api/v1/api-keys/{id}")).await;
    let died = eventually(Duration::from_secs(10), || async {
        app.get(&admin, "/api/v1/admin/jobs?status=dead").await.1["dead"] == 1
    })
    .await;
    assert!(died, "the job is dead after its only attempt");
    let (status, jobs) = app.get(&admin, "/api/v1/admin/jobs?status=dead").await;
    assert_eq!(status, 200);
    assert_eq!(jobs["items"][0]["api_key_id"], id.as_str());
    assert!(
        jobs["items"][0]["last_error"]
            .as_str()
            .unwrap()
            .contains("unavailable"),
        "{jobs}"
    );
    let (status, problem) = app.get(&token, "/api/v1/admin/jobs").await;
    assert_eq!((status, problem["code"].as_str()), (403, Some("forbidden")));
    let (status, problem) = app.get(&admin, "/api/v1/admin/jobs?status=nope").await;
    assert_eq!((status, problem["field"].as_str()), (422, Some("status")));
}

#[tokio::test]
async fn suspending_a_user_blocks_their_keys_and_reactivating_unblocks_them() {
    let (app, token, sub) = setup().await;
    let (_, secret) = app
        .create_key(&token, json!({"name": "ci", "subscription_ids": [sub]}))
        .await;
    assert_eq!(app.chat(&secret, "gpt-4o-mini").await.0, 200);

    let (ok, _, stderr) = app.cli(&["admin", "suspend-user", "alice"]);
    assert!(ok, "{stderr}");
    let blocked = eventually(Duration::from_secs(10), || async {
        app.chat(&secret, "gpt-4o-mini").await.0 == 401
    })
    .await;
    assert!(
        blocked,
        "the worker blocks the suspended user's key in LiteLLM"
    );
    assert_eq!(app.double.keys()[0].blocked, Some(true));
    assert_eq!(
        app.get(&token, "/api/v1/api-keys").await.0,
        401,
        "a suspended user's token stops working"
    );

    let (ok, _, stderr) = app.cli(&["admin", "reactivate-user", "alice"]);
    assert!(ok, "{stderr}");
    let unblocked = eventually(Duration::from_secs(10), || async {
        app.chat(&secret, "gpt-4o-mini").await.0 == 200
    })
    .await;
    assert!(unblocked, "the worker unblocks the key");
    let (status, keys) = app.get(&token, "/api/v1/api-keys").await;
    assert_eq!(
        (status, keys["items"][0]["status"].as_str()),
        (200, Some("active"))
    );
}
