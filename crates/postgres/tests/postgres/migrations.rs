use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::AsyncPgConnection;
use diesel_migrations::MigrationHarness;
use keyport_domain::StoreError;
use keyport_postgres::{connect, run_migrations, MIGRATIONS};
use keyport_testkit::TestDb;

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
