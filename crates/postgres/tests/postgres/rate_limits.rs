//! The shared rate-limit buckets: two replicas (two pools on one database) count together, concurrent takes
//! never grant more than the bucket holds, and pruning forgets only buckets that are full again.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests: a failed setup or a wrong answer must fail the test"
)]

use crate::common::sql;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use keyport_domain::identity::RateLimitStore;
use keyport_domain::identity::{RateDecision, RateLimit};
use keyport_postgres::schema::rate_limits;
use keyport_postgres::{connect, PgStore};
use keyport_testkit::TestDb;
use std::sync::Arc;
use std::time::Duration;

/// One token a minute: a test lasting a few seconds regains a small fraction of one, never a whole one.
const SLOW: RateLimit = RateLimit {
    per_minute: 1,
    burst: 5,
};

async fn replica(db: &TestDb) -> PgStore {
    connect(db.url(), 8).await.unwrap()
}

/// Every bucket: (limiter, address group, tokens, whether the last take was granted), in key order.
async fn buckets(db: &TestDb) -> Vec<(String, String, f64, bool)> {
    let mut conn = db.pool().get().await.unwrap();
    rate_limits::table
        .select((
            rate_limits::limiter,
            rate_limits::address_group,
            rate_limits::tokens,
            rate_limits::granted,
        ))
        .order((rate_limits::limiter, rate_limits::address_group))
        .load(&mut conn)
        .await
        .unwrap()
}

async fn granted(store: &PgStore, limiter: &str, group: &str, limit: RateLimit) -> bool {
    store
        .take(limiter, group, limit)
        .await
        .unwrap()
        .is_granted()
}

#[tokio::test]
async fn two_replicas_share_one_bucket_per_limiter_and_group() {
    let db = TestDb::new().await;
    let (first, second) = (replica(&db).await, replica(&db).await);

    for _ in 0..3 {
        assert!(granted(&first, "auth_failures", "198.51.100.7", SLOW).await);
    }
    assert!(granted(&second, "auth_failures", "198.51.100.7", SLOW).await);
    assert!(granted(&second, "auth_failures", "198.51.100.7", SLOW).await);
    // Five taken between them: both replicas now refuse, and say when the next token comes (~1 min).
    for store in [&first, &second] {
        match store
            .take("auth_failures", "198.51.100.7", SLOW)
            .await
            .unwrap()
        {
            RateDecision::Refused { retry_after } => assert!(
                retry_after > Duration::from_secs(50) && retry_after <= Duration::from_secs(60),
                "{retry_after:?}"
            ),
            RateDecision::Granted => panic!("a sixth token from a bucket of five"),
        }
    }
    // Another group, another limiter: buckets of their own.
    assert!(granted(&second, "auth_failures", "198.51.100.8", SLOW).await);
    assert!(granted(&first, "login", "198.51.100.7", SLOW).await);
}

#[tokio::test]
async fn concurrent_takes_from_two_replicas_grant_exactly_the_burst() {
    let db = TestDb::new().await;
    let stores = [Arc::new(replica(&db).await), Arc::new(replica(&db).await)];
    let limit = RateLimit {
        per_minute: 1,
        burst: 20,
    };
    let mut tasks = Vec::new();
    for n in 0..60 {
        let store = stores[n % 2].clone();
        tasks.push(tokio::spawn(async move {
            store
                .take("auth_failures", "2001:db8:1:2::/64", limit)
                .await
                .unwrap()
                .is_granted()
        }));
    }
    let mut grants = 0;
    for task in tasks {
        if task.await.unwrap() {
            grants += 1;
        }
    }
    assert_eq!(grants, 20, "of 60 concurrent takes, exactly the burst");
    let left = buckets(&db).await;
    assert_eq!(left.len(), 1);
    assert!(left[0].2 < 1.0 && left[0].2 >= 0.0, "{left:?}");
}

#[tokio::test]
async fn a_bucket_regains_tokens_with_time_and_a_refusal_takes_nothing() {
    let db = TestDb::new().await;
    let store = replica(&db).await;
    let limit = RateLimit {
        per_minute: 60,
        burst: 2,
    };
    assert!(granted(&store, "login", "203.0.113.1", limit).await);
    assert!(granted(&store, "login", "203.0.113.1", limit).await);
    // Emptied a full second ago (moved back in time rather than waiting): one token regained.
    sql(
        &db,
        "UPDATE rate_limits SET tokens = 0, updated_at = now() - interval '1.5 s'",
    )
    .await
    .unwrap();
    assert!(granted(&store, "login", "203.0.113.1", limit).await);
    match store.take("login", "203.0.113.1", limit).await.unwrap() {
        RateDecision::Refused { retry_after } => {
            assert!(retry_after <= Duration::from_millis(500), "{retry_after:?}")
        }
        RateDecision::Granted => panic!("only 1.5 tokens were regained"),
    }
    let left = buckets(&db).await;
    assert_eq!(left.len(), 1);
    assert!((left[0].2 - 0.5).abs() < 0.05, "{left:?}");
    assert!(!left[0].3, "the last take was refused");
    // Never above the burst, however long the wait.
    sql(
        &db,
        "UPDATE rate_limits SET tokens = 0, updated_at = now() - interval '1 day'",
    )
    .await
    .unwrap();
    assert!(granted(&store, "login", "203.0.113.1", limit).await);
    assert!(granted(&store, "login", "203.0.113.1", limit).await);
    assert!(!granted(&store, "login", "203.0.113.1", limit).await);
}

#[tokio::test]
async fn pruning_forgets_only_the_limiters_buckets_idle_until_full() {
    let db = TestDb::new().await;
    let store = replica(&db).await;
    for group in ["192.0.2.1", "192.0.2.2"] {
        assert!(granted(&store, "auth_failures", group, SLOW).await);
    }
    assert!(granted(&store, "login", "192.0.2.1", SLOW).await);
    sql(
        &db,
        "UPDATE rate_limits SET updated_at = now() - interval '10 minutes' \
         WHERE address_group = '192.0.2.1'",
    )
    .await
    .unwrap();
    // SLOW fills in 5 minutes: the idle failure bucket goes, the busy one and the other limiter's stay.
    assert_eq!(
        store
            .prune("auth_failures", SLOW.full_after())
            .await
            .unwrap(),
        1
    );
    let left: Vec<(String, String)> = buckets(&db)
        .await
        .into_iter()
        .map(|(limiter, group, _, _)| (limiter, group))
        .collect();
    assert_eq!(
        left,
        [
            ("auth_failures".to_owned(), "192.0.2.2".to_owned()),
            ("login".to_owned(), "192.0.2.1".to_owned())
        ]
    );
    // A limit that is off prunes nothing rather than failing on an endless interval.
    assert_eq!(
        store
            .prune("login", RateLimit::new(0, 1).full_after())
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn a_limit_that_is_off_grants_without_a_row() {
    let db = TestDb::new().await;
    let store = replica(&db).await;
    for _ in 0..3 {
        assert!(granted(&store, "login", "192.0.2.9", RateLimit::new(0, 1)).await);
    }
    assert!(buckets(&db).await.is_empty());
}
