//! The audit log survives keyport's own database role: `keyport serve` runs as a member of `keyport_app`
//! (the test harness's serve role), works end to end, and that role can neither change nor remove audit
//! rows, nor get past the triggers that protect them (docs/security.md#database-roles).

mod common;

use common::{sql, App};
use serde_json::json;
use tokio_postgres::error::SqlState;

#[tokio::test]
async fn keyport_works_as_the_serve_role_which_cannot_rewrite_the_audit_log() {
    let app = App::start_as_serve_role(&[]).await;
    assert_ne!(
        app.database_url,
        app.db.url(),
        "keyport works as the serve role"
    );

    // End to end under the serve role: the CLI creates users, the server subscribes, creates and revokes a
    // key, records and seals the events, and `audit verify` (as the serve role too) finds the chain intact.
    let admin = app.create_user("root", true);
    let alice = app.create_user("alice", false);
    let sub = app.subscribe(&alice, "gpt-4o-mini").await;
    let (key_id, _) = app
        .create_key(&alice, json!({"name": "ci", "subscription_ids": [sub]}))
        .await;
    app.revoke_key(&alice, &key_id).await;
    let events = app.wait_until_sealed(&admin).await;
    let create = events
        .iter()
        .find(|e| e["action"] == "api_key.create" && e["target_id"] == key_id.as_str())
        .unwrap_or_else(|| panic!("the key's creation is in the audit log: {events:?}"));
    assert_eq!(create["actor_username"], "alice");
    let (ok, stdout, stderr) = app.cli(&["audit", "verify"]);
    assert!(ok, "verify as the serve role: {stdout}{stderr}");
    assert!(stdout.contains("the chain is intact"), "{stdout}");

    // The store says what the role may do: read and append, nothing more; the owner may do more.
    let exposure = keyport_postgres::connect(&app.database_url, 1)
        .await
        .unwrap()
        .audit_exposure()
        .await
        .unwrap();
    assert_eq!(exposure.role, keyport_testkit::db::SERVE_ROLE);
    assert!(exposure.append_only(), "{exposure:?}");
    let owner = keyport_postgres::connect(app.db.url(), 1)
        .await
        .unwrap()
        .audit_exposure()
        .await
        .unwrap();
    assert!(!owner.append_only(), "{owner:?}");

    // The serve role's own session, as someone holding keyport's credentials would have it.
    let serve = sql(&app.database_url).await;
    let event_id = create["id"].as_i64().unwrap();
    let seq = create["seq"].as_i64().unwrap();
    let refused = [
        format!("UPDATE audit_events SET actor = NULL WHERE id = {event_id}"),
        format!("DELETE FROM audit_events WHERE id = {event_id}"),
        "TRUNCATE audit_events".to_owned(),
        format!("UPDATE audit_chain SET hash = repeat('0', 64) WHERE seq = {seq}"),
        format!("DELETE FROM audit_chain WHERE seq = {seq}"),
        "TRUNCATE audit_chain".to_owned(),
        "ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only".to_owned(),
        "ALTER TABLE audit_events DISABLE TRIGGER ALL".to_owned(),
        "ALTER TABLE audit_chain DISABLE TRIGGER audit_chain_append_only".to_owned(),
        "DROP TRIGGER audit_events_append_only ON audit_events".to_owned(),
        "DROP TRIGGER audit_chain_no_truncate ON audit_chain".to_owned(),
        "ALTER TRIGGER audit_events_append_only ON audit_events RENAME TO gone".to_owned(),
        "CREATE TRIGGER mine BEFORE INSERT ON audit_events \
         FOR EACH ROW EXECUTE FUNCTION audit_events_refuse_change()"
            .to_owned(),
        "ALTER TABLE audit_events ADD COLUMN forged text".to_owned(),
        "ALTER TABLE audit_events OWNER TO CURRENT_USER".to_owned(),
        "DROP TABLE audit_chain".to_owned(),
        "CREATE OR REPLACE FUNCTION audit_events_refuse_change() RETURNS trigger \
         LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$"
            .to_owned(),
        "CREATE OR REPLACE FUNCTION audit_chain_hash(seq bigint, event audit_events, prev_hash text) \
         RETURNS text LANGUAGE sql STABLE RETURN prev_hash"
            .to_owned(),
        "SET session_replication_role = replica".to_owned(),
        "SELECT keyport_grant_app_role()".to_owned(),
        // Nor on the ordinary tables: no TRUNCATE, no ALTER.
        "TRUNCATE api_keys".to_owned(),
        "ALTER TABLE api_keys DISABLE TRIGGER ALL".to_owned(),
    ];
    for statement in &refused {
        let error = serve
            .batch_execute(statement)
            .await
            .err()
            .unwrap_or_else(|| panic!("the serve role was allowed: {statement}"));
        assert_eq!(
            error.code(),
            Some(&SqlState::INSUFFICIENT_PRIVILEGE),
            "{statement}: {error:?}"
        );
    }

    // What it needs it still has: reading the log and appending to it.
    let row = serve
        .query_one(
            "SELECT count(*) FROM audit_events e JOIN audit_chain c ON c.event_id = e.id",
            &[],
        )
        .await
        .unwrap();
    assert!(row.get::<_, i64>(0) >= 3);
    serve
        .batch_execute(
            "INSERT INTO audit_events (action, target_type, target_id) VALUES ('test.append', 'test', 't')",
        )
        .await
        .unwrap();

    // Nothing changed: the event is as it was, and the chain (the appended event included once sealed) is
    // intact.
    let (status, page) = app
        .get(
            &admin,
            &format!("/api/v1/admin/audit?action=api_key.create&target_id={key_id}"),
        )
        .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["items"][0]["actor_username"], "alice");
    let (ok, stdout, stderr) = app.cli(&["audit", "verify"]);
    assert!(ok, "{stdout}{stderr}");
    assert!(stdout.contains("the chain is intact"), "{stdout}");
}

#[tokio::test]
async fn migrate_runs_as_the_owner_given_and_serve_works_as_the_database_url_role() {
    let app = App::start_as_serve_role(&[]).await;
    // `keyport migrate` with both URLs migrates as the owner: nothing pending, the grants applied again.
    let (ok, _, stderr) = app.cli(&["migrate"]);
    assert!(ok, "{stderr}");
    assert!(stderr.contains("migrations applied"), "{stderr}");
    // Without the owner's URL, migrate runs as DATABASE_URL: the serve role may not even read diesel's
    // bookkeeping, so a misconfigured install fails loudly instead of half-migrating.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_keyport"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("DATABASE_URL", &app.database_url)
        .env("KEYPORT_LOG", "warn")
        .arg("migrate")
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "the serve role cannot run the owner's part of migrate"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("permission denied"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
