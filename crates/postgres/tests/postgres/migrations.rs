use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::AsyncPgConnection;
use diesel_migrations::MigrationHarness;
use keyport_domain::StoreError;
use keyport_postgres::{connect, run_migrations, MIGRATIONS};
use keyport_testkit::TestDb;

/// The version of `2026-11-25-000002_jobs_and_key_lifecycle`.
const LIFECYCLE: &str = "20261125000002";

#[tokio::test]
async fn migrating_a_migrated_database_applies_nothing() {
    let db = TestDb::new().await;
    assert_eq!(
        run_migrations(db.url()).await.unwrap(),
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn every_migration_can_be_reverted_and_applied_again() {
    let db = TestDb::new().await;
    let url = db.url().to_owned();
    let reverted = tokio::task::spawn_blocking(move || {
        use diesel::Connection;
        let mut conn = AsyncConnectionWrapper::<AsyncPgConnection>::establish(&url).unwrap();
        conn.revert_all_migrations(MIGRATIONS).unwrap().len()
    })
    .await
    .unwrap();
    assert!(reverted > 0);

    let applied = run_migrations(db.url()).await.unwrap();
    assert_eq!(applied.len(), reverted);
    db.store().ping().await.unwrap();
}

#[tokio::test]
async fn connecting_to_a_server_that_is_not_there_is_unavailable() {
    let result = connect("postgres://postgres@127.0.0.1:1/nothing", 1).await;
    assert!(
        matches!(result, Err(StoreError::Unavailable(_))),
        "{result:?}"
    );
}

#[tokio::test]
async fn reverting_the_lifecycle_migration_refuses_while_a_key_is_lost_and_then_succeeds() {
    use crate::common::*;
    let w = world().await;
    let key = new_key(w.user.id, "ci", &[w.subscription.id]);
    insert_active_key(&w.store, &key).await;
    sql(
        &w.db,
        &format!(
            "UPDATE api_keys SET status = 'lost' WHERE id = '{}'",
            key.id
        ),
    )
    .await
    .unwrap();
    // The migrations after it first, so that it is the last one applied.
    let url = w.db.url().to_owned();
    tokio::task::spawn_blocking(move || {
        use diesel::Connection;
        let mut conn = AsyncConnectionWrapper::<AsyncPgConnection>::establish(&url).unwrap();
        while conn
            .applied_migrations()
            .unwrap()
            .iter()
            .any(|version| version.to_string().as_str() > LIFECYCLE)
        {
            conn.revert_last_migration(MIGRATIONS).unwrap();
        }
    })
    .await
    .unwrap();
    let revert_last = |url: String| {
        tokio::task::spawn_blocking(move || {
            use diesel::Connection;
            let mut conn = AsyncConnectionWrapper::<AsyncPgConnection>::establish(&url).unwrap();
            conn.revert_last_migration(MIGRATIONS)
                .map(|version| version.to_string())
                .map_err(|e| e.to_string())
        })
    };

    let refused = revert_last(w.db.url().to_owned()).await.unwrap();
    assert!(
        refused.as_ref().is_err_and(|e| e.contains("lost")),
        "{refused:?}"
    );
    assert!(
        sql(&w.db, "SELECT 1 FROM jobs").await.is_ok(),
        "nothing was reverted"
    );

    sql(
        &w.db,
        &format!(
            "UPDATE api_keys SET status = 'revoked', revoked_at = now() WHERE id = '{}'",
            key.id
        ),
    )
    .await
    .unwrap();
    let reverted = revert_last(w.db.url().to_owned()).await.unwrap().unwrap();
    assert_eq!(
        reverted, LIFECYCLE,
        "2026-11-25-000002_jobs_and_key_lifecycle"
    );
    assert!(sql(&w.db, "SELECT 1 FROM jobs").await.is_err());
}

/// The version of `2026-12-04-000008_quota_pools`.
const QUOTA_POOLS: &str = "20261204000008";

#[tokio::test]
async fn the_quota_pools_migration_queues_a_converge_job_for_every_user_and_every_live_key() {
    use crate::common::*;
    use keyport_domain::access::AccessStore;
    use keyport_domain::keys::ApiKeyStore;
    use keyport_domain::keys::SyncState;
    let w = world().await;
    let bob = insert_user(&w.store, "bob").await;
    let active = new_key(w.user.id, "active", &[w.subscription.id]);
    insert_active_key(&w.store, &active).await;
    let retiring = new_key(w.user.id, "retiring", &[w.subscription.id]);
    insert_active_key(&w.store, &retiring).await;
    make_retiring(&w.db, retiring.id, at(3_600)).await;
    let revoked = new_key(w.user.id, "revoked", &[w.subscription.id]);
    insert_active_key(&w.store, &revoked).await;
    w.store
        .revoke_key(
            revoked.id,
            at(2),
            &audit("api_key.revoke", "api_key", revoked.id),
        )
        .await
        .unwrap();
    // Back to the schema before it, with LiteLLM holding every key as its row says.
    let url = w.db.url().to_owned();
    tokio::task::spawn_blocking(move || {
        use diesel::Connection;
        let mut conn = AsyncConnectionWrapper::<AsyncPgConnection>::establish(&url).unwrap();
        while conn
            .applied_migrations()
            .unwrap()
            .iter()
            .any(|version| version.to_string().as_str() >= QUOTA_POOLS)
        {
            conn.revert_last_migration(MIGRATIONS).unwrap();
        }
    })
    .await
    .unwrap();
    sql(&w.db, "DELETE FROM jobs").await.unwrap();
    sql(
        &w.db,
        "UPDATE api_keys SET sync_state = 'synced', synced_at = now()",
    )
    .await
    .unwrap();

    let applied = run_migrations(w.db.url()).await.unwrap();

    assert!(applied.iter().any(|version| version == QUOTA_POOLS));
    for user in [w.user.id, bob.id] {
        let jobs: Vec<_> = user_jobs_of(&w.db, user)
            .await
            .into_iter()
            .map(|(status, _, attempts)| (status, attempts))
            .collect();
        assert_eq!(jobs, [("pending".to_owned(), 0)], "{user}");
        assert!(w
            .store
            .access_record(user)
            .await
            .unwrap()
            .unwrap()
            .is_pending());
    }
    for key in [active.id, retiring.id] {
        assert_eq!(pending_jobs_of(&w.db, key).await.len(), 1, "{key}");
        assert_eq!(
            w.store.get_key(key).await.unwrap().unwrap().sync_state,
            SyncState::Pending
        );
    }
    assert!(jobs_of(&w.db, revoked.id).await.is_empty());
    assert_eq!(
        w.store
            .get_key(revoked.id)
            .await
            .unwrap()
            .unwrap()
            .sync_state,
        SyncState::Synced
    );
}

/// What `keyport_app` may do to each table, as `has_table_privilege` says.
#[expect(
    clippy::unwrap_used,
    reason = "test helper: a failed query must fail the test that asked"
)]
async fn app_privileges(db: &TestDb, table: &str) -> Vec<&'static str> {
    use diesel::dsl::sql;
    use diesel::sql_types::Bool;
    use diesel_async::RunQueryDsl;
    let mut conn = db.pool().get().await.unwrap();
    let mut held = Vec::new();
    for privilege in [
        "SELECT",
        "INSERT",
        "UPDATE",
        "DELETE",
        "TRUNCATE",
        "REFERENCES",
        "TRIGGER",
    ] {
        let has: bool = diesel::select(sql::<Bool>(&format!(
            "has_table_privilege('{}', '{table}', '{privilege}')",
            keyport_postgres::APP_ROLE
        )))
        .get_result(&mut conn)
        .await
        .unwrap();
        if has {
            held.push(privilege);
        }
    }
    held
}

#[tokio::test]
async fn the_serve_role_may_only_append_to_the_audit_log_and_tables_added_later_are_granted() {
    use crate::common::sql;
    let db = TestDb::new().await;
    let ordinary = ["SELECT", "INSERT", "UPDATE", "DELETE"];
    for table in [
        "users",
        "api_keys",
        "jobs",
        "sessions",
        "self_service_settings",
    ] {
        assert_eq!(app_privileges(&db, table).await, ordinary, "{table}");
    }
    for table in ["audit_events", "audit_chain"] {
        assert_eq!(
            app_privileges(&db, table).await,
            ["SELECT", "INSERT"],
            "{table}"
        );
    }
    assert!(app_privileges(&db, "__diesel_schema_migrations")
        .await
        .is_empty());

    // A table a later migration adds gets the ordinary grants at the next migrate; grants taken away by
    // hand (or extra ones given) are put back to exactly what the serve role needs.
    sql(&db, "CREATE TABLE later (id bigserial PRIMARY KEY)")
        .await
        .unwrap();
    sql(&db, "REVOKE ALL ON users FROM keyport_app")
        .await
        .unwrap();
    sql(
        &db,
        "GRANT TRUNCATE, TRIGGER ON audit_events TO keyport_app",
    )
    .await
    .unwrap();
    assert_eq!(
        run_migrations(db.url()).await.unwrap(),
        Vec::<String>::new()
    );
    assert_eq!(app_privileges(&db, "later").await, ordinary);
    assert_eq!(app_privileges(&db, "users").await, ordinary);
    assert_eq!(
        app_privileges(&db, "audit_events").await,
        ["SELECT", "INSERT"]
    );
}
