//! Leadership among replicas: an advisory lock held on a connection taken out of the pool.

use keyport_domain::runtime::Leadership;
use keyport_postgres::{connect, PgStore};
use keyport_testkit::TestDb;
use std::time::Duration;

/// A second replica: its own pool on the same database.
#[expect(
    clippy::unwrap_used,
    reason = "test helper: a failed setup must fail the test"
)]
async fn replica(db: &TestDb) -> PgStore {
    connect(db.url(), 2).await.unwrap()
}

#[tokio::test]
async fn one_replica_leads_a_name_until_its_guard_is_dropped() {
    let db = TestDb::new().await;
    let (first, second) = (replica(&db).await, replica(&db).await);

    let guard = first.try_lead("reconciler").await.unwrap();
    assert!(guard.is_some());
    assert!(second.try_lead("reconciler").await.unwrap().is_none());
    assert!(
        first.try_lead("reconciler").await.unwrap().is_none(),
        "the same replica asking again on another connection does not lead twice"
    );

    drop(guard);
    // The server notices the closed connection shortly after.
    let mut attempts = 0;
    let taken_over = loop {
        if let Some(guard) = second.try_lead("reconciler").await.unwrap() {
            break guard;
        }
        attempts += 1;
        assert!(attempts < 100, "the lock was not released");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(first.try_lead("reconciler").await.unwrap().is_none());
    drop(taken_over);
}

#[tokio::test]
async fn different_names_do_not_exclude_each_other() {
    let db = TestDb::new().await;
    let (first, second) = (replica(&db).await, replica(&db).await);

    let reconciler = first.try_lead("reconciler").await.unwrap();
    let expiry = second.try_lead("expiry").await.unwrap();

    assert!(reconciler.is_some() && expiry.is_some());
    assert!(second.try_lead("reconciler").await.unwrap().is_none());
    assert!(first.try_lead("expiry").await.unwrap().is_none());
}

#[tokio::test]
async fn leading_does_not_take_a_connection_from_the_pool() {
    let db = TestDb::new().await;
    let store = connect(db.url(), 1).await.unwrap();

    let reconciler = store.try_lead("reconciler").await.unwrap();
    let expiry = store.try_lead("expiry").await.unwrap();

    assert!(reconciler.is_some() && expiry.is_some());
    assert_eq!(
        store.pool().status().size,
        0,
        "both connections left the pool"
    );
    store.ping().await.unwrap();
}
