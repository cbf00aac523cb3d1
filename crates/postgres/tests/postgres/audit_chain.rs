//! The tamper-evident audit log: sealing into the hash chain, verification of a real chain (and of one
//! edited by hand), the database refusing changes, and listing with filters and pages.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers: a failed setup must fail the test that asked for it"
)]

use crate::common::*;
use chrono::{DateTime, TimeDelta, Utc};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::SimpleAsyncConnection;
use keyport_domain::audit::AuditLog;
use keyport_domain::audit::{
    ActionFilter, AuditEvent, AuditFilter, AuditTrail, ChainLink, UnsealedEvents,
};
use keyport_domain::audit::{
    AuditReport, ProblemKind, SealAudit, VerifyAudit, VerifyOptions, SEAL_BATCH,
};
use keyport_domain::runtime::Clock;
use keyport_domain::users::{Actor, Role};
use keyport_domain::StoreError;
use keyport_postgres::{connect, PgStore};
use keyport_testkit::TestDb;
use std::sync::Arc;

struct WallClock;

impl Clock for WallClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

async fn verify(store: &PgStore, options: VerifyOptions) -> AuditReport {
    VerifyAudit::new(Arc::new(store.clone()), Arc::new(WallClock))
        .execute(&options, &|_| {})
        .await
        .unwrap()
}

/// Seals until no event is left unsealed and answers how many were sealed. Waits, because the horizon is
/// cluster-wide: a write transaction open anywhere on the server (e.g. another test's) holds back the
/// events of transactions that started after it.
async fn seal_all(store: &PgStore) -> u64 {
    let mut sealed = 0;
    for _ in 0..1_000 {
        sealed += SealAudit::new(Arc::new(store.clone()))
            .execute()
            .await
            .unwrap()
            .sealed;
        if store.seal_backlog().await.unwrap() == 0 {
            return sealed;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("events were left unsealed for 20 s");
}

async fn append(store: &PgStore, action: &str, target_id: &str) {
    store
        .append(&AuditEvent::system(action, "test", target_id, at(0)))
        .await
        .unwrap();
}

/// Runs statements on one connection (a session setting such as `session_replication_role` lasts for it).
async fn batch(db: &TestDb, statements: &str) -> Result<(), DieselError> {
    let mut conn = db.pool().get().await.unwrap();
    conn.batch_execute(statements).await
}

/// An event id and the seq it was sealed at, by target id.
async fn sealed_at(db: &TestDb, target_id: &str) -> (i64, i64) {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use keyport_postgres::schema::{audit_chain, audit_events};
    let mut conn = db.pool().get().await.unwrap();
    audit_events::table
        .inner_join(audit_chain::table)
        .filter(audit_events::target_id.eq(target_id))
        .select((audit_events::id, audit_chain::seq))
        .first(&mut conn)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_real_history_is_sealed_into_a_chain_that_verifies() {
    let w = world().await;
    let key = new_key(w.user.id, "ci", &[w.subscription.id]);
    insert_active_key(&w.store, &key).await;

    let sealed = seal_all(&w.store).await;
    // user, subscription, key created and activated.
    assert_eq!(sealed, 4);
    let head = w.store.head().await.unwrap().unwrap();
    assert_eq!(head.seq, 4);

    let entries = w.store.chain_entries(1, 10).await.unwrap();
    assert_eq!(
        entries.iter().map(|e| e.seq).collect::<Vec<_>>(),
        [1, 2, 3, 4]
    );
    assert_eq!(entries[0].prev_hash, None);
    for pair in entries.windows(2) {
        assert_eq!(pair[1].prev_hash.as_ref(), Some(&pair[0].hash));
    }
    for entry in &entries {
        assert_eq!(entry.recomputed.as_ref(), Some(&entry.hash));
        assert_eq!(entry.hash.len(), 64);
    }
    // Within one run, events are sealed in id order.
    assert!(entries.windows(2).all(|p| p[0].event_id < p[1].event_id));

    let report = verify(&w.store, VerifyOptions::default()).await;
    assert!(report.intact(), "{:?}", report.problems);
    assert_eq!(report.checked, 4);
    assert_eq!(report.head, Some(head.clone()));
    assert_eq!(report.unsealed, UnsealedEvents::default());

    // Sealing again appends nothing; new events extend the chain from its head.
    assert_eq!(seal_all(&w.store).await, 0);
    append(&w.store, "test.more", "m1").await;
    assert_eq!(w.store.seal_backlog().await.unwrap(), 1);
    assert_eq!(seal_all(&w.store).await, 1);
    let report = verify(
        &w.store,
        VerifyOptions {
            expect_head: Some(head),
            ..VerifyOptions::default()
        },
    )
    .await;
    assert!(report.intact(), "{:?}", report.problems);
    assert_eq!(report.head.unwrap().seq, 5);
}

#[tokio::test]
async fn the_hash_is_sha256_of_the_documented_canonical_rendering() {
    let db = TestDb::new().await;
    let store = db.store();
    let event = AuditEvent::system("user.create", "user", "u-1", at(7))
        .with_after(serde_json::json!({"b": 1.5, "a": [true, null]}));
    store.append(&event).await.unwrap();
    seal_all(&store).await;
    let head = store.head().await.unwrap().unwrap();
    let (id, seq) = sealed_at(&db, "u-1").await;
    assert_eq!(seq, 1);

    // What docs/operations-audit.md tells operators to recompute: jsonb's text of this array (keys sorted,
    // ", " and ": " separators), hashed by a SHA-256 that is not PostgreSQL's.
    let rendering = format!(
        "[1, {id}, null, \"user.create\", \"user\", \"u-1\", null, {{\"a\": [true, null], \"b\": 1.5}}, null, null, {}, null]",
        at(7).timestamp_micros()
    );
    assert_eq!(head.hash, sha256sum(&rendering));
}

#[tokio::test]
async fn a_client_request_id_is_rendered_after_the_previous_hash_and_only_when_present() {
    let db = TestDb::new().await;
    let store = db.store();
    let mut event = AuditEvent::system("api_key.create", "api_key", "k-1", at(7));
    event.request_id = Some("0b7c55e4-6f1e-4c36-9d0e-2a4f4f7c1b11".into());
    event.client_request_id = Some("client \"7\"".into());
    store.append(&event).await.unwrap();
    seal_all(&store).await;
    let head = store.head().await.unwrap().unwrap();
    let (id, seq) = sealed_at(&db, "k-1").await;
    assert_eq!(seq, 1);
    // The documented array of twelve, then the client's id (JSON-quoted) as a thirteenth element.
    let rendering = format!(
        "[1, {id}, null, \"api_key.create\", \"api_key\", \"k-1\", null, null, \"0b7c55e4-6f1e-4c36-9d0e-2a4f4f7c1b11\", null, {}, null, \"client \\\"7\\\"\"]",
        at(7).timestamp_micros()
    );
    assert_eq!(head.hash, sha256sum(&rendering));
}

#[tokio::test]
async fn events_sealed_before_the_client_request_id_existed_still_verify() {
    use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
    use diesel_async::AsyncPgConnection;
    use diesel_migrations::MigrationHarness;
    use keyport_postgres::{run_migrations, MIGRATIONS};
    /// The version of `2026-12-05-000012_serve_role`, which added the column.
    const CLIENT_REQUEST_ID: &str = "20261205000012";

    let db = TestDb::new().await;
    let url = db.url().to_owned();
    tokio::task::spawn_blocking(move || {
        use diesel::Connection;
        let mut conn = AsyncConnectionWrapper::<AsyncPgConnection>::establish(&url).unwrap();
        while conn
            .applied_migrations()
            .unwrap()
            .iter()
            .any(|version| version.to_string().as_str() >= CLIENT_REQUEST_ID)
        {
            conn.revert_last_migration(MIGRATIONS).unwrap();
        }
    })
    .await
    .unwrap();
    // Sealed by the old definition, on the old table.
    for n in 0..3 {
        sql(
            &db,
            &format!(
                "INSERT INTO audit_events (action, target_type, target_id, request_id) \
                 VALUES ('test.old', 'test', 'old{n}', 'from-a-client-{n}')"
            ),
        )
        .await
        .unwrap();
    }
    // The adapter's sealing names no column, so it works on the old table too.
    let old = connect(db.url(), 2).await.unwrap();
    assert_eq!(seal_all(&old).await, 3);
    old.pool().close();

    run_migrations(db.url()).await.unwrap();
    let store = connect(db.url(), 2).await.unwrap();
    let mut event = AuditEvent::system("test.new", "test", "new", at(9));
    event.client_request_id = Some("client-9".into());
    store.append(&event).await.unwrap();
    assert_eq!(seal_all(&store).await, 1);
    let report = verify(&store, VerifyOptions::default()).await;
    assert!(report.intact(), "{:?}", report.problems);
    assert_eq!(report.head.unwrap().seq, 4);
}

/// SHA-256 by coreutils, independent of the database.
fn sha256sum(text: &str) -> String {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8(out.stdout).unwrap()[..64].to_owned()
}

#[tokio::test]
async fn events_of_an_open_transaction_wait_and_are_sealed_after_it_commits() {
    let db = TestDb::new().await;
    let store = db.store();
    let other = connect(db.url(), 1).await.unwrap();
    let mut open = other.pool().get().await.unwrap();
    append(&store, "test.before", "before").await;
    open.batch_execute(
        "BEGIN; INSERT INTO audit_events (action, target_type, target_id) VALUES ('test.slow', 'test', 'slow')",
    )
    .await
    .unwrap();
    append(&store, "test.after", "after").await;

    // What committed before the open transaction began is sealed; what committed after it waits for it.
    let mut sealed = 0;
    while sealed == 0 {
        sealed = SealAudit::new(Arc::new(store.clone()))
            .execute()
            .await
            .unwrap()
            .sealed;
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(sealed, 1);
    sealed_at(&db, "before").await;
    for _ in 0..5 {
        assert_eq!(seal_all_once(&store).await, 0);
    }
    assert_eq!(
        store.unsealed_events(at(0)).await.unwrap().total,
        1,
        "the open transaction's event is not visible yet"
    );

    open.batch_execute("COMMIT").await.unwrap();
    assert_eq!(seal_all(&store).await, 2);
    // Sealed in the order of their transactions: the slow one began first.
    let (_, slow) = sealed_at(&db, "slow").await;
    let (_, after) = sealed_at(&db, "after").await;
    assert_eq!((slow, after), (2, 3));
    let report = verify(&store, VerifyOptions::default()).await;
    assert!(report.intact(), "{:?}", report.problems);
    assert_eq!(report.checked, 3);
    assert_eq!(report.unsealed.total, 0);
}

async fn seal_all_once(store: &PgStore) -> u64 {
    SealAudit::new(Arc::new(store.clone()))
        .execute()
        .await
        .unwrap()
        .sealed
}

#[tokio::test]
async fn concurrent_writers_and_sealers_keep_a_valid_chain_with_every_event_once() {
    let db = TestDb::new().await;
    let replicas: Vec<PgStore> = vec![
        connect(db.url(), 3).await.unwrap(),
        connect(db.url(), 3).await.unwrap(),
    ];
    let writing = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let mut sealers = Vec::new();
    for store in replicas.clone() {
        let writing = writing.clone();
        sealers.push(tokio::spawn(async move {
            let mut sealed = 0u64;
            while writing.load(std::sync::atomic::Ordering::Relaxed) {
                sealed += SealAudit::new(Arc::new(store.clone()))
                    .execute()
                    .await
                    .unwrap()
                    .sealed;
                tokio::task::yield_now().await;
            }
            sealed
        }));
    }
    let mut writers = Vec::new();
    for writer in 0..6 {
        let store = replicas[writer % 2].clone();
        writers.push(tokio::spawn(async move {
            for n in 0..30 {
                if n % 3 == 0 {
                    // Several events in one transaction.
                    let mut conn = store.pool().get().await.unwrap();
                    conn.batch_execute(&format!(
                        "BEGIN; \
                         INSERT INTO audit_events (action, target_type, target_id) VALUES ('test.tx', 'test', 'w{writer}-{n}-a'); \
                         SELECT pg_sleep(0.002); \
                         INSERT INTO audit_events (action, target_type, target_id) VALUES ('test.tx', 'test', 'w{writer}-{n}-b'); \
                         COMMIT"
                    ))
                    .await
                    .unwrap();
                } else {
                    append(&store, "test.one", &format!("w{writer}-{n}")).await;
                }
            }
        }));
    }
    for writer in writers {
        writer.await.unwrap();
    }
    writing.store(false, std::sync::atomic::Ordering::Relaxed);
    let mut sealed = 0;
    for sealer in sealers {
        sealed += sealer.await.unwrap();
    }
    sealed += seal_all(&replicas[0]).await;

    let events = 6 * (20 + 2 * 10);
    assert_eq!(sealed, events, "every event sealed exactly once");
    let report = verify(&replicas[1], VerifyOptions::default()).await;
    assert!(report.intact(), "{:?}", report.problems);
    assert_eq!(report.checked, events);
    assert_eq!(report.unsealed.total, 0);
    // The two events of a transaction sit next to each other in the chain.
    let (_, a) = sealed_at(&db, "w0-0-a").await;
    let (_, b) = sealed_at(&db, "w0-0-b").await;
    assert_eq!(b, a + 1);
}

#[tokio::test]
async fn an_event_edited_by_hand_is_detected_with_its_seq_and_the_anchor_too() {
    let db = TestDb::new().await;
    let store = db.store();
    for n in 0..5 {
        append(&store, "test.write", &format!("e{n}")).await;
    }
    seal_all(&store).await;
    let head = store.head().await.unwrap().unwrap();
    let (event, seq) = sealed_at(&db, "e2").await;

    batch(
        &db,
        &format!(
            "SET session_replication_role = replica; \
             UPDATE audit_events SET after = '{{\"role\": \"admin\"}}' WHERE id = {event}; \
             RESET session_replication_role"
        ),
    )
    .await
    .unwrap();

    let report = verify(&store, VerifyOptions::default()).await;
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    let problem = &report.problems[0];
    assert_eq!(
        (problem.kind, problem.seq, problem.event_id),
        (ProblemKind::Altered, seq, Some(event))
    );

    // Rewriting the whole chain from there on (as a superuser could) is caught by a recorded head.
    batch(
        &db,
        &format!(
            "ALTER TABLE audit_chain DISABLE TRIGGER audit_chain_append_only; \
             DELETE FROM audit_chain WHERE seq >= {seq}; \
             ALTER TABLE audit_chain ENABLE TRIGGER audit_chain_append_only"
        ),
    )
    .await
    .unwrap();
    seal_all(&store).await;
    let rewritten = verify(&store, VerifyOptions::default()).await;
    assert!(
        rewritten.intact(),
        "a consistent rewrite is invisible without an anchor: {:?}",
        rewritten.problems
    );
    let anchored = verify(
        &store,
        VerifyOptions {
            expect_head: Some(head.clone()),
            ..VerifyOptions::default()
        },
    )
    .await;
    assert_eq!(anchored.problems.len(), 1, "{:?}", anchored.problems);
    assert_eq!(
        (anchored.problems[0].kind, anchored.problems[0].seq),
        (ProblemKind::AnchorMismatch, head.seq)
    );
}

#[tokio::test]
async fn a_deleted_event_and_a_deleted_chain_row_are_detected() {
    let db = TestDb::new().await;
    let store = db.store();
    for n in 0..6 {
        append(&store, "test.write", &format!("e{n}")).await;
    }
    seal_all(&store).await;
    let (event, seq) = sealed_at(&db, "e1").await;
    let (_, gap) = sealed_at(&db, "e4").await;

    // Replica mode skips the append-only triggers and the foreign key's checks alike.
    batch(
        &db,
        &format!(
            "SET session_replication_role = replica; \
             DELETE FROM audit_events WHERE id = {event}; \
             DELETE FROM audit_chain WHERE seq = {gap}; \
             RESET session_replication_role"
        ),
    )
    .await
    .unwrap();

    let report = verify(&store, VerifyOptions::default()).await;
    let found: Vec<_> = report
        .problems
        .iter()
        .map(|p| (p.kind, p.seq, p.event_id))
        .collect();
    assert_eq!(
        found,
        [
            (ProblemKind::EventMissing, seq, Some(event)),
            (ProblemKind::RowsMissing, gap, None),
        ]
    );
    // The event whose chain row went is an unsealed event now.
    assert_eq!(report.unsealed.total, 1);
}

#[tokio::test]
async fn the_database_refuses_to_change_or_remove_events_and_chain_rows() {
    let db = TestDb::new().await;
    let store = db.store();
    append(&store, "test.write", "e0").await;
    seal_all(&store).await;
    for statement in [
        "UPDATE audit_events SET action = 'forged'",
        "DELETE FROM audit_events",
        "TRUNCATE audit_events CASCADE",
        "UPDATE audit_chain SET hash = repeat('0', 64)",
        "DELETE FROM audit_chain",
        "TRUNCATE audit_chain",
    ] {
        match sql(&db, statement).await {
            Err(DieselError::DatabaseError(kind, info)) => {
                assert!(
                    matches!(kind, DatabaseErrorKind::RestrictViolation)
                        && info.message().contains("append-only"),
                    "{statement}: {kind:?} {}",
                    info.message()
                );
            }
            other => panic!("{statement} should be refused, got {other:?}"),
        }
    }
    // Inserting a forged chain row by hand is refused by the keys (seq and event are taken).
    assert_refused(
        &db,
        &format!(
            "INSERT INTO audit_chain (seq, event_id, prev_hash, hash) VALUES (1, 1, NULL, '{}')",
            "0".repeat(64)
        ),
        DatabaseErrorKind::UniqueViolation,
        "audit_chain_pkey",
    )
    .await;
    let report = verify(&store, VerifyOptions::default()).await;
    assert!(report.intact(), "{:?}", report.problems);
}

#[tokio::test]
async fn sealing_refuses_to_extend_a_chain_whose_head_event_is_gone() {
    let db = TestDb::new().await;
    let store = db.store();
    append(&store, "test.write", "e0").await;
    seal_all(&store).await;
    batch(
        &db,
        "SET session_replication_role = replica; DELETE FROM audit_events; RESET session_replication_role",
    )
    .await
    .unwrap();
    append(&store, "test.write", "e1").await;
    match store.seal(SEAL_BATCH).await {
        Err(StoreError::Unexpected(message)) => {
            assert!(message.contains("head (seq 1)"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(store.head().await.unwrap().unwrap().seq, 1);
}

#[tokio::test]
async fn an_unsealed_event_older_than_the_cut_off_is_counted_as_late() {
    let db = TestDb::new().await;
    let store = db.store();
    store
        .append(&AuditEvent::system(
            "test.old",
            "test",
            "o",
            Utc::now() - TimeDelta::minutes(5),
        ))
        .await
        .unwrap();
    store
        .append(&AuditEvent::system("test.new", "test", "n", Utc::now()))
        .await
        .unwrap();
    let unsealed = store
        .unsealed_events(Utc::now() - TimeDelta::minutes(1))
        .await
        .unwrap();
    assert_eq!(unsealed, UnsealedEvents { total: 2, older: 1 });
    assert_eq!(store.seal_backlog().await.unwrap(), 2);
    seal_all(&store).await;
    assert_eq!(store.seal_backlog().await.unwrap(), 0);
}

#[tokio::test]
async fn the_log_lists_newest_first_with_filters_and_keyset_pages() {
    let db = TestDb::new().await;
    let store = db.store();
    let alice = insert_user(&store, "alice").await;
    let mut actor = Actor::user(alice.id);
    actor.roles.push(Role::Admin);
    actor.request_id = Some("req-1".into());
    actor.client_addr = Some("192.0.2.7".into());
    actor.client_request_id = Some("client-1".into());
    for (action, target, seconds) in [
        ("api_key.create", "k1", 10),
        ("api_key.revoke", "k1", 20),
        ("apixkey.create", "k2", 30),
        ("subscription.create", "s1", 40),
    ] {
        store
            .append(&AuditEvent::by(
                &actor,
                action,
                "api_key",
                target,
                at(seconds),
            ))
            .await
            .unwrap();
    }
    append(&store, "api_key.expire", "k3").await;
    seal_all(&store).await;
    append(&store, "api_key.expire", "k4").await;

    let list = |filter: AuditFilter, before: Option<i64>, limit: u32| {
        let store = store.clone();
        async move {
            store
                .list_events(&filter, before, limit)
                .await
                .unwrap()
                .into_iter()
                .map(|r| (r.id, r.event.target_id.clone(), r))
                .collect::<Vec<_>>()
        }
    };
    let everything = list(AuditFilter::default(), None, 100).await;
    let ids: Vec<i64> = everything.iter().map(|(id, _, _)| *id).collect();
    assert_eq!(
        ids.len(),
        7,
        "user.create, four by alice, two by the system"
    );
    assert!(ids.windows(2).all(|p| p[0] > p[1]), "newest first: {ids:?}");

    let (_, _, newest) = &everything[0];
    assert_eq!(newest.event.target_id, "k4");
    assert_eq!(newest.seal, None, "not sealed yet");
    let by_alice: Vec<_> = everything
        .iter()
        .filter(|(_, _, r)| r.event.actor == Some(alice.id))
        .collect();
    assert_eq!(by_alice.len(), 4);
    let (_, _, revoke) = by_alice
        .iter()
        .find(|(_, t, r)| t == "k1" && r.event.action == "api_key.revoke")
        .unwrap();
    assert_eq!(revoke.actor_username.as_deref(), Some("alice"));
    assert_eq!(revoke.event.request_id.as_deref(), Some("req-1"));
    assert_eq!(revoke.event.client_request_id.as_deref(), Some("client-1"));
    assert_eq!(revoke.event.client_addr.as_deref(), Some("192.0.2.7"));
    assert_eq!(revoke.event.at, at(20));
    let seal: &ChainLink = revoke.seal.as_ref().unwrap();
    assert_eq!(seal.hash.len(), 64);

    let targets = |rows: Vec<(i64, String, keyport_domain::audit::AuditRecord)>| {
        rows.into_iter().map(|(_, t, _)| t).collect::<Vec<_>>()
    };
    let prefix = AuditFilter {
        action: Some(ActionFilter::parse("api_key.*").unwrap()),
        ..AuditFilter::default()
    };
    assert_eq!(
        targets(list(prefix.clone(), None, 100).await),
        ["k4", "k3", "k1", "k1"],
        "'_' in a prefix is literal: apixkey.create does not match"
    );
    let exact = AuditFilter {
        action: Some(ActionFilter::parse("api_key.create").unwrap()),
        ..AuditFilter::default()
    };
    assert_eq!(targets(list(exact, None, 100).await), ["k1"]);
    let by_actor = AuditFilter {
        actor: Some(alice.id),
        target_id: Some("k1".into()),
        ..AuditFilter::default()
    };
    assert_eq!(targets(list(by_actor, None, 100).await), ["k1", "k1"]);
    let by_request = AuditFilter {
        request_id: Some("req-1".into()),
        target_type: Some("api_key".into()),
        since: Some(at(20)),
        until: Some(at(40)),
        ..AuditFilter::default()
    };
    assert_eq!(targets(list(by_request, None, 100).await), ["k2", "k1"]);
    let nobody = AuditFilter {
        target_type: Some("model".into()),
        ..AuditFilter::default()
    };
    assert!(list(nobody, None, 100).await.is_empty());

    // Keyset pages: below the last id of the page before, never repeating or skipping.
    let first = list(prefix.clone(), None, 2).await;
    assert_eq!(targets(first.clone()), ["k4", "k3"]);
    let second = list(prefix.clone(), Some(first[1].0), 2).await;
    assert_eq!(targets(second.clone()), ["k1", "k1"]);
    assert!(list(prefix, Some(second[1].0), 2).await.is_empty());
}

#[tokio::test]
async fn reading_the_log_writes_nothing() {
    let db = TestDb::new().await;
    let store = db.store();
    append(&store, "test.write", "e0").await;
    seal_all(&store).await;
    let before = store.unsealed_events(at(0)).await.unwrap();
    store
        .list_events(&AuditFilter::default(), None, 10)
        .await
        .unwrap();
    verify(
        &store,
        VerifyOptions {
            seal_first: false,
            ..VerifyOptions::default()
        },
    )
    .await;
    assert_eq!(store.unsealed_events(at(0)).await.unwrap(), before);
    assert_eq!(store.head().await.unwrap().unwrap().seq, 1);
}

#[tokio::test]
async fn events_recorded_before_the_chain_existed_are_sealed_in_id_order() {
    use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
    use diesel_async::AsyncPgConnection;
    use diesel_migrations::MigrationHarness;
    use keyport_postgres::{run_migrations, MIGRATIONS};
    /// The version of the migration before `2026-11-25-000004_audit_chain`.
    const BEFORE_CHAIN: &str = "20261125000003";

    let db = TestDb::new().await;
    let url = db.url().to_owned();
    tokio::task::spawn_blocking(move || {
        use diesel::Connection;
        let mut conn = AsyncConnectionWrapper::<AsyncPgConnection>::establish(&url).unwrap();
        while conn
            .applied_migrations()
            .unwrap()
            .iter()
            .any(|version| version.to_string().as_str() > BEFORE_CHAIN)
        {
            conn.revert_last_migration(MIGRATIONS).unwrap();
        }
    })
    .await
    .unwrap();
    for n in 0..3 {
        sql(
            &db,
            &format!(
                "INSERT INTO audit_events (action, target_type, target_id) VALUES ('test.old', 'test', 'old{n}')"
            ),
        )
        .await
        .unwrap();
    }
    run_migrations(db.url()).await.unwrap();

    let store = connect(db.url(), 2).await.unwrap();
    assert_eq!(seal_all(&store).await, 3);
    for n in 0..3 {
        let (_, seq) = sealed_at(&db, &format!("old{n}")).await;
        assert_eq!(seq, n + 1);
    }
    let report = verify(&store, VerifyOptions::default()).await;
    assert!(report.intact(), "{:?}", report.problems);
}
