//! `keyport reconcile` against the double seeded with every kind of disagreement: the dry run lists them and
//! changes nothing; the real run fixes them, keyport's record winning; a second pass finds nothing.

#![expect(
    clippy::panic,
    clippy::unwrap_used,
    reason = "test helpers outside #[test] functions: a failed unwrap or panic is a failed test"
)]

mod common;

use common::App;
use keyport_testkit::double::{hash_token, DoubleConfig, Fault};
use serde_json::json;

fn row_of(table: &str, finding: &str) -> Vec<u64> {
    let line = table
        .lines()
        .find(|l| l.starts_with(finding))
        .unwrap_or_else(|| panic!("no '{finding}' row in:\n{table}"));
    line[finding.len()..]
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect()
}

#[tokio::test]
async fn reconcile_lists_every_disagreement_in_a_dry_run_and_fixes_them_in_a_real_one() {
    // No workers and no background reconciler: the disagreements stay until the command fixes them.
    let app = App::start_with_env(
        DoubleConfig::demo(),
        &[
            ("KEYPORT_JOB_WORKERS", "0"),
            ("KEYPORT_RECONCILE_INTERVAL_SECS", "0"),
            ("KEYPORT_LITELLM_TIMEOUT_SECS", "1"),
        ],
    )
    .await;
    let token = app.create_user("alice", false);
    let sub = app.subscribe(&token, "gpt-4o-mini").await;
    let create = |name: &'static str| {
        let sub = sub.clone();
        let app = &app;
        let token = token.clone();
        async move {
            let (status, created) = app
                .post(
                    &token,
                    "/api/v1/api-keys",
                    json!({"name": name, "subscription_ids": [sub]}),
                )
                .await;
            assert_eq!(status, 201, "{created}");
            (
                created["key"]["id"].as_str().unwrap().to_owned(),
                created["secret"].as_str().unwrap().to_owned(),
            )
        }
    };

    let (_, fine_secret) = create("fine").await;
    let (_, drifted_secret) = create("drifted").await;
    assert!(app.double.update_key(&hash_token(&drifted_secret), |k| {
        k.models = vec!["claude-3-5-sonnet".into()];
        k.max_budget = Some(1000.0);
    }));
    let (missing_id, missing_secret) = create("missing").await;
    assert_eq!(
        app.litellm_admin(
            "/key/delete",
            json!({"keys": [hash_token(&missing_secret)]})
        )
        .await
        .0,
        200
    );
    let (dead_id, dead_secret) = create("dead").await;
    app.double
        .inject(Fault::Status(503).on("/key/delete").always());
    let (_, revoked) = app
        .delete(&token, &format!("/api/v1/api-keys/{dead_id}"))
        .await;
    assert_eq!(revoked["revocation_pending"], true);
    app.double.clear_faults();
    app.double
        .inject(Fault::CommitThenTimeout.on("/key/generate").times(1));
    app.double.inject(Fault::Timeout.on("/key/info").always());
    let (status, _) = app
        .post(
            &token,
            "/api/v1/api-keys",
            json!({"name": "stale", "subscription_ids": [sub]}),
        )
        .await;
    assert_eq!(status, 503);
    app.double.clear_faults();
    let orphan = "sk-kp-orphan0000000000000000000000000000000000";
    let (status, _) = app
        .litellm_admin("/key/generate", json!({"key": orphan, "models": ["gpt-4o-mini"], "metadata": {"managed_by": "keyport", "keyport_key_id": "gone"}}))
        .await;
    assert_eq!(status, 200);
    let foreign = "sk-someone-elses-key-0000000000";
    assert_eq!(
        app.litellm_admin(
            "/key/generate",
            json!({"key": foreign, "models": ["gpt-4o-mini"]})
        )
        .await
        .0,
        200
    );
    let litellm_before = app.double.keys().len();

    let (ok, table, stderr) = app.cli(&["reconcile", "--dry-run", "--stale-after-secs", "0"]);
    assert!(ok, "{stderr}");
    assert!(table.contains("dry run"), "{table}");
    for finding in [
        "orphan",
        "stale provisioning",
        "dead key present",
        "drift",
        "missing",
    ] {
        assert_eq!(row_of(&table, finding), [1, 0], "{finding} in:\n{table}");
    }
    assert_eq!(
        app.double.keys().len(),
        litellm_before,
        "a dry run changes nothing"
    );

    let (ok, table, stderr) = app.cli(&["reconcile", "--stale-after-secs", "0"]);
    assert!(ok, "{stderr}");
    for finding in [
        "orphan",
        "stale provisioning",
        "dead key present",
        "drift",
        "missing",
    ] {
        assert_eq!(row_of(&table, finding), [1, 1], "{finding} in:\n{table}");
    }
    let hashes: Vec<String> = app.double.keys().iter().map(|k| k.hash.clone()).collect();
    assert!(!hashes.contains(&hash_token(orphan)), "orphan deleted");
    assert!(
        hashes.contains(&hash_token(foreign)),
        "a key keyport does not own is left alone"
    );
    assert!(
        !hashes.contains(&hash_token(&dead_secret)),
        "the revoked key is gone"
    );
    let drifted = app.double.key(&hash_token(&drifted_secret)).unwrap();
    assert_eq!(
        (drifted.models.clone(), drifted.max_budget),
        (vec!["gpt-4o-mini".to_owned()], None),
        "keyport's record wins"
    );
    assert_eq!(
        app.chat(&fine_secret, "gpt-4o-mini").await.0,
        200,
        "a key in line keeps working"
    );
    let (_, missing) = app
        .get(&token, &format!("/api/v1/api-keys/{missing_id}"))
        .await;
    assert_eq!(missing["status"], "lost");

    // Both passes are on record for admins and auditors, newest first; a plain user may not look.
    let (status, _) = app.get(&token, "/api/v1/admin/reconcile").await;
    assert_eq!(status, 403);
    let admin = app.create_user("root", true);
    let (status, runs) = app.get(&admin, "/api/v1/admin/reconcile?limit=5").await;
    assert_eq!(status, 200, "{runs}");
    let runs = runs["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert_eq!(
        (runs[0]["trigger"].as_str(), runs[0]["dry_run"].as_bool()),
        (Some("command"), Some(false))
    );
    assert_eq!(runs[0]["fixed"], 5);
    assert_eq!(runs[0]["findings"]["orphan"], 1);
    assert_eq!(runs[0]["findings"]["drift"], 1);
    assert_eq!(runs[1]["dry_run"], true);
    assert_eq!(runs[1]["fixed"], 0);
    assert!(runs[0]["error"].is_null());
    let (_, keys) = app.get(&token, "/api/v1/api-keys").await;
    let stale = keys["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "stale")
        .unwrap();
    assert_eq!(stale["status"], "failed");
    assert!(app.double.keys().iter().all(|k| k
        .metadata
        .get("keyport_key_id")
        .and_then(|v| v.as_str())
        != stale["id"].as_str()));

    let (ok, table, _) = app.cli(&["reconcile", "--stale-after-secs", "0"]);
    assert!(ok);
    for finding in [
        "orphan",
        "stale provisioning",
        "dead key present",
        "drift",
        "missing",
    ] {
        assert_eq!(
            row_of(&table, finding),
            [0, 0],
            "a second pass finds nothing:\n{table}"
        );
    }
}

#[tokio::test]
async fn the_background_reconciler_removes_an_orphan_and_counts_the_fix() {
    let app = App::start_with_env(
        DoubleConfig::demo(),
        &[("KEYPORT_RECONCILE_INTERVAL_SECS", "1")],
    )
    .await;
    let orphan = "sk-kp-orphan1111111111111111111111111111111111";
    let (status, _) = app
        .litellm_admin("/key/generate", json!({"key": orphan, "models": ["gpt-4o-mini"], "metadata": {"managed_by": "keyport", "keyport_key_id": "gone"}}))
        .await;
    assert_eq!(status, 200);
    let mut metrics = String::new();
    for _ in 0..100 {
        metrics = app.metrics().await;
        if metrics.contains("keyport_reconcile_fixes_total{kind=\"orphan\"} 1") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        metrics.contains("keyport_reconcile_fixes_total{kind=\"orphan\"} 1"),
        "{metrics}"
    );
    assert!(
        app.double.key(&hash_token(orphan)).is_none(),
        "the orphan is gone"
    );
}
