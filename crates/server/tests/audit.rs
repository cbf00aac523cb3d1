//! The tamper-evident audit log through the real binary: a journey's events are sealed by the server,
//! `keyport audit verify` passes on that history and fails, naming the row, once an event is edited by hand;
//! `GET /api/v1/admin/audit` filters and pages the log for administrators and refuses everybody else.

mod common;

use common::{sql, App};
use serde_json::{json, Value};
use std::time::Duration;

#[tokio::test]
async fn verify_passes_on_a_real_history_and_names_the_row_edited_by_hand() {
    let app = App::start().await;
    let admin = app.create_user("root", true);
    let alice = app.create_user("alice", false);

    // A real history: subscribe, create a key, revoke it.
    let sub = app.subscribe(&alice, "gpt-4o-mini").await;
    let (key_id, secret) = app
        .create_key(&alice, json!({"name": "ci", "subscription_ids": [sub]}))
        .await;
    app.revoke_key(&alice, &key_id).await;

    let events = app.wait_until_sealed(&admin).await;
    let actions: Vec<&str> = events
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for action in ["subscription.create", "api_key.create", "api_key.revoke"] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
    let create = events
        .iter()
        .find(|e| e["action"] == "api_key.create")
        .unwrap();
    assert_eq!(create["actor_username"], "alice");
    assert_eq!(create["target_id"], key_id.as_str());
    assert!(create["request_id"].as_str().is_some_and(|r| !r.is_empty()));
    assert_eq!(create["client_addr"], "127.0.0.1");
    assert_eq!(create["hash"].as_str().unwrap().len(), 64);
    assert!(
        !Value::from(events.clone())
            .to_string()
            .contains(&secret[12..]),
        "the audit log never holds a key's secret"
    );

    let (ok, stdout, stderr) = app.cli(&["audit", "verify"]);
    assert!(ok, "verify passes on a real history: {stdout}{stderr}");
    assert!(stdout.contains("the chain is intact"), "{stdout}");
    let head = stdout
        .lines()
        .find_map(|l| l.split_once(" head ").map(|(_, h)| h.trim().to_owned()))
        .unwrap_or_else(|| panic!("verify prints the head: {stdout}"));
    let (ok, stdout, _) = app.cli(&["audit", "verify", "--expect-head", &head]);
    assert!(ok, "the recorded head is still there: {stdout}");

    // Edit the key's creation by hand, as a superuser can.
    let (event_id, seq) = (
        create["id"].as_i64().unwrap(),
        create["seq"].as_i64().unwrap(),
    );
    let db = sql(app.db.url()).await;
    let refused = db
        .execute(
            "UPDATE audit_events SET actor = NULL WHERE id = $1",
            &[&event_id],
        )
        .await
        .unwrap_err();
    assert_eq!(
        refused.as_db_error().map(|e| e.message()),
        Some("audit_events is append-only"),
        "without disabling the triggers the database refuses"
    );
    db.batch_execute(&format!(
        "SET session_replication_role = replica; \
         UPDATE audit_events SET after = jsonb_build_object('forged', true) WHERE id = {event_id}; \
         RESET session_replication_role"
    ))
    .await
    .unwrap();

    let (ok, stdout, stderr) = app.cli(&["audit", "verify"]);
    assert!(!ok, "verify fails after an edit: {stdout}");
    assert!(stdout.contains("NOT intact"), "{stdout}");
    let line = stdout
        .lines()
        .find(|l| l.contains("altered"))
        .unwrap_or_else(|| panic!("the altered row is listed: {stdout}"));
    let columns: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(
        (columns[0], columns[1]),
        (seq.to_string().as_str(), event_id.to_string().as_str()),
        "{line}"
    );
    assert!(stderr.contains("not intact"), "{stderr}");
}

#[tokio::test]
async fn the_audit_log_filters_and_pages_for_administrators_only() {
    let app = App::start().await;
    let admin = app.create_user("root", true);
    let alice = app.create_user("alice", false);
    let sub = app.subscribe(&alice, "gpt-4o-mini").await;
    let mut keys = Vec::new();
    for name in ["k1", "k2", "k3"] {
        let (status, created) = app
            .post(
                &alice,
                "/api/v1/api-keys",
                json!({"name": name, "subscription_ids": [sub]}),
            )
            .await;
        assert_eq!(status, 201, "{created}");
        keys.push(created["key"]["id"].as_str().unwrap().to_owned());
    }

    let (status, problem) = app.get(&alice, "/api/v1/admin/audit").await;
    assert_eq!(status, 403, "{problem}");

    // A prefix filter, two per page, following the cursors.
    let mut pages = Vec::new();
    let mut path = "/api/v1/admin/audit?action=api_key.*&limit=2".to_owned();
    loop {
        let (status, page) = app.get(&admin, &path).await;
        assert_eq!(status, 200, "{page}");
        pages.push(page["items"].as_array().unwrap().clone());
        match page["next_cursor"].as_str() {
            Some(cursor) => {
                path = format!("/api/v1/admin/audit?action=api_key.*&limit=2&cursor={cursor}")
            }
            None => break,
        }
    }
    let listed: Vec<&Value> = pages.iter().flatten().collect();
    assert!(pages.iter().all(|p| p.len() <= 2));
    assert!(listed
        .iter()
        .all(|e| e["action"].as_str().unwrap().starts_with("api_key.")));
    let ids: Vec<i64> = listed.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert!(
        ids.windows(2).all(|p| p[0] > p[1]),
        "newest first, no repeats: {ids:?}"
    );
    for key in &keys {
        assert!(
            listed
                .iter()
                .any(|e| e["target_id"] == key.as_str() && e["action"] == "api_key.create"),
            "{key}"
        );
    }

    // Exact action and target.
    let (status, page) = app
        .get(
            &admin,
            &format!(
                "/api/v1/admin/audit?action=api_key.create&target_type=api_key&target_id={}",
                keys[1]
            ),
        )
        .await;
    assert_eq!(status, 200, "{page}");
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{page}");
    assert_eq!(items[0]["target_id"], keys[1].as_str());
    let request_id = items[0]["request_id"].as_str().unwrap().to_owned();
    let alice_id = items[0]["actor"].as_str().unwrap().to_owned();

    // By request id: the events of that one request.
    let (status, page) = app
        .get(
            &admin,
            &format!("/api/v1/admin/audit?request_id={request_id}"),
        )
        .await;
    assert_eq!(status, 200, "{page}");
    assert!(page["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["request_id"] == request_id.as_str() && e["target_id"] == keys[1].as_str()));

    // By actor: alice's subscription and three keys, nothing of the admin's.
    let (status, page) = app
        .get(&admin, &format!("/api/v1/admin/audit?actor={alice_id}"))
        .await;
    assert_eq!(status, 200, "{page}");
    let items = page["items"].as_array().unwrap();
    assert!(items
        .iter()
        .all(|e| e["actor"] == alice_id.as_str() && e["actor_username"] == "alice"));
    assert_eq!(
        items
            .iter()
            .filter(|e| e["action"] == "api_key.create")
            .count(),
        3,
        "{page}"
    );
    assert!(items.iter().any(|e| e["action"] == "subscription.create"));

    // A time window that ends before everything.
    let (status, page) = app
        .get(&admin, "/api/v1/admin/audit?until=2000-01-01T00:00:00Z")
        .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["items"], json!([]));
    assert_eq!(page["next_cursor"], Value::Null);

    // Bad filters are 422 naming the parameter.
    for (query, field) in [
        ("actor=alice", "actor"),
        ("action=api%25", "action"),
        ("since=yesterday", "since"),
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("cursor=42", "cursor"),
        (
            "since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z",
            "until",
        ),
    ] {
        let (status, problem) = app
            .get(&admin, &format!("/api/v1/admin/audit?{query}"))
            .await;
        assert_eq!(status, 422, "{query}: {problem}");
        assert_eq!(problem["field"], field, "{query}: {problem}");
    }

    // Reading the log writes nothing to it.
    let before = app.audit_events(&admin).await.len();
    for _ in 0..3 {
        app.audit_events(&admin).await;
    }
    assert_eq!(app.audit_events(&admin).await.len(), before);
}

#[tokio::test]
async fn the_server_reports_unsealed_events_in_metrics() {
    let app = App::start_with_env(
        keyport_testkit::double::DoubleConfig::demo(),
        &[("KEYPORT_AUDIT_SEAL_INTERVAL_MS", "0")],
    )
    .await;
    let _admin = app.create_user("root", true);
    let metrics = app.metrics().await;
    let line = metrics
        .lines()
        .find(|l| l.starts_with("keyport_audit_unsealed_events "))
        .unwrap_or_else(|| panic!("{metrics}"));
    let unsealed: u64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(
        unsealed >= 1,
        "sealing is off, so the user's creation waits: {line}"
    );

    // `keyport audit verify` seals them itself (again if a write transaction elsewhere on the PostgreSQL
    // server held sealing back).
    for _ in 0..50 {
        let (ok, stdout, _) = app.cli(&["audit", "verify"]);
        assert!(ok, "{stdout}");
        let metrics = app.metrics().await;
        if metrics.contains("keyport_audit_unsealed_events 0\n") {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("verify did not seal the events");
}

#[tokio::test]
async fn the_recorded_request_id_is_keyports_and_the_clients_is_kept_apart() {
    let app = App::start().await;
    let admin = app.create_user("root", true);
    let alice = app.create_user("alice", false);
    let sub = app.subscribe(&alice, "gpt-4o-mini").await;

    // Two requests that send the same `x-request-id`: a client's id is neither keyport's nor unique.
    let planted = "client-7f3a.retry-1";
    let mut keys = Vec::new();
    let mut answered = Vec::new();
    for name in ["k1", "k2"] {
        let response = app
            .client
            .post(app.url("/api/v1/api-keys"))
            .header("authorization", format!("Bearer {alice}"))
            .header("x-request-id", planted)
            .json(&json!({"name": name, "subscription_ids": [sub]}))
            .send()
            .await
            .unwrap();
        let header = response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_owned();
        let (status, created) = common::http::decode(response).await;
        assert_eq!(status, 201, "{created}");
        let id = uuid::Uuid::parse_str(&header)
            .unwrap_or_else(|_| panic!("keyport answers with its own id, a UUID: {header}"));
        assert_eq!(id.get_version_num(), 4, "{header}");
        keys.push(created["key"]["id"].as_str().unwrap().to_owned());
        answered.push(header);
    }
    assert_ne!(answered[0], answered[1], "every request has its own id");

    // A header keyport does not keep (too long) is dropped: no client id, still keyport's own.
    let too_long = "x".repeat(129);
    let response = app
        .client
        .delete(app.url(&format!("/api/v1/api-keys/{}", keys[1])))
        .header("authorization", format!("Bearer {alice}"))
        .header("x-request-id", &too_long)
        .send()
        .await
        .unwrap();
    let revoke_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(response.status(), 200);
    assert_ne!(revoke_id, too_long);

    let events = app.wait_until_sealed(&admin).await;
    for (key, request_id) in keys.iter().zip(&answered) {
        let create = events
            .iter()
            .find(|e| e["action"] == "api_key.create" && e["target_id"] == key.as_str())
            .unwrap_or_else(|| panic!("{key} in {events:?}"));
        assert_eq!(create["request_id"], request_id.as_str(), "{create}");
        assert_eq!(create["client_request_id"], planted, "{create}");
    }
    let revoke = events
        .iter()
        .find(|e| e["action"] == "api_key.revoke" && e["target_id"] == keys[1].as_str())
        .unwrap();
    assert_eq!(revoke["request_id"], revoke_id.as_str());
    assert_eq!(revoke["client_request_id"], Value::Null);
    assert!(
        events.iter().all(|e| e["request_id"] != planted),
        "a client's id is never recorded as keyport's"
    );
    let (status, page) = app
        .get(&admin, &format!("/api/v1/admin/audit?request_id={planted}"))
        .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["items"], json!([]));
    let (status, page) = app
        .get(
            &admin,
            &format!("/api/v1/admin/audit?request_id={}", answered[0]),
        )
        .await;
    assert_eq!(status, 200, "{page}");
    let items = page["items"].as_array().unwrap();
    assert!(!items.is_empty() && items.iter().all(|e| e["target_id"] == keys[0].as_str()));

    // The chain covers the client's id: it verifies as recorded, and fails once that id is edited.
    let (ok, stdout, stderr) = app.cli(&["audit", "verify"]);
    assert!(ok, "{stdout}{stderr}");
    let create = events
        .iter()
        .find(|e| e["action"] == "api_key.create" && e["target_id"] == keys[0].as_str())
        .unwrap();
    let (event_id, seq) = (
        create["id"].as_i64().unwrap(),
        create["seq"].as_i64().unwrap(),
    );
    sql(app.db.url())
        .await
        .batch_execute(&format!(
            "SET session_replication_role = replica; \
             UPDATE audit_events SET client_request_id = 'someone-else' WHERE id = {event_id}; \
             RESET session_replication_role"
        ))
        .await
        .unwrap();
    let (ok, stdout, _) = app.cli(&["audit", "verify"]);
    assert!(!ok, "verify fails once the client's id is edited: {stdout}");
    let line = stdout
        .lines()
        .find(|l| l.contains("altered"))
        .unwrap_or_else(|| panic!("the altered row is listed: {stdout}"));
    let columns: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(
        (columns[0], columns[1]),
        (seq.to_string().as_str(), event_id.to_string().as_str()),
        "{line}"
    );
}
