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
