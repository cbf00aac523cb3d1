//! Each user's LiteLLM access: the versions the `subscriptions_access_changed` trigger raises with the
//! `converge_user` job it queues, the access records the job reads, and its side of the outbox.

use crate::common::*;
use chrono::{DateTime, Utc};
use keyport_domain::access::{AccessRecord, AccessStore};
use keyport_domain::ids::UserId;
use keyport_domain::jobs::JobStore;
use keyport_domain::jobs::{JobKind, JobStatus};
use keyport_domain::subscriptions::SubscriptionStatus::*;
use keyport_domain::subscriptions::SubscriptionStore;
use keyport_testkit::TestDb;

/// The user's access record, which must exist.
#[expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test fixture: a failed setup must fail the test"
)]
async fn record_of(store: &impl AccessStore, user: UserId) -> AccessRecord {
    store
        .access_record(user)
        .await
        .unwrap()
        .expect("the user exists")
}

/// What the ports do not expose of a user's sync state: (synced at, last error).
#[expect(
    clippy::unwrap_used,
    reason = "test fixture: a failed setup must fail the test"
)]
async fn sync_state_of(db: &TestDb, user: UserId) -> (Option<DateTime<Utc>>, Option<String>) {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use keyport_postgres::schema::users;
    let mut conn = db.pool().get().await.unwrap();
    users::table
        .find(user.0)
        .select((users::access_synced_at, users::access_sync_error))
        .first(&mut conn)
        .await
        .unwrap()
}

/// Claims every due job (so that what a later change queues stands out as a new pending job).
#[expect(
    clippy::unwrap_used,
    reason = "test fixture: a failed setup must fail the test"
)]
async fn claim_all(store: &impl JobStore) {
    store.claim_jobs(at(1_000), at(2_000), 1_000).await.unwrap();
}

#[tokio::test]
async fn subscribing_raises_the_owners_access_version_and_queues_one_converge_user_job_due_at_the_change(
) {
    let db = TestDb::new().await;
    let store = db.store();
    let alice = insert_user(&store, "alice").await;
    let model = insert_model(&store, "openai/gpt-4o").await;
    let before = record_of(&store, alice.id).await.version;
    let mut subscribed = subscription(alice.id, &model, Active);
    subscribed.created_at = at(7);
    subscribed.updated_at = at(7);

    store
        .insert_subscription(
            &subscribed,
            &audit("subscription.create", "subscription", subscribed.id),
        )
        .await
        .unwrap();

    assert_eq!(record_of(&store, alice.id).await.version, before + 1);
    assert_eq!(
        user_jobs_of(&db, alice.id).await,
        [("pending".to_owned(), at(7), 0)]
    );
}

#[tokio::test]
async fn each_change_of_status_or_quota_raises_the_version_and_keeps_one_pending_job_due_at_the_earliest_change(
) {
    let db = TestDb::new().await;
    let store = db.store();
    let alice = insert_user(&store, "alice").await;
    let model = insert_model(&store, "openai/gpt-4o").await;
    let mut requested = subscription(alice.id, &model, Pending);
    requested.updated_at = at(10);
    store
        .insert_subscription(
            &requested,
            &audit("subscription.request", "subscription", requested.id),
        )
        .await
        .unwrap();
    let subscribed = record_of(&store, alice.id).await.version;

    store
        .change_subscription_status(
            requested.id,
            Pending,
            Active,
            None,
            None,
            at(20),
            &audit("subscription.approve", "subscription", requested.id),
        )
        .await
        .unwrap();
    assert_eq!(record_of(&store, alice.id).await.version, subscribed + 1);
    assert_eq!(pending_user_jobs_of(&db, alice.id).await, [at(10)]);

    store
        .change_subscription_quota(
            requested.id,
            &limits("5", "1d", 1_000, 10),
            at(5),
            &audit("subscription.quota", "subscription", requested.id),
        )
        .await
        .unwrap();
    assert_eq!(record_of(&store, alice.id).await.version, subscribed + 2);
    assert_eq!(
        user_jobs_of(&db, alice.id).await,
        [("pending".to_owned(), at(5), 0)],
        "still one job, due at the earlier change"
    );
}

#[tokio::test]
async fn a_change_that_touches_neither_status_nor_quota_leaves_the_version_and_the_jobs_alone() {
    let w = world().await;
    claim_all(&w.store).await;
    let version = record_of(&w.store, w.user.id).await.version;
    let jobs = user_jobs_of(&w.db, w.user.id).await;

    // Only the reason changes.
    w.store
        .change_subscription_status(
            w.subscription.id,
            Active,
            Active,
            Some("renamed team".to_owned()),
            None,
            at(30),
            &audit("subscription.note", "subscription", w.subscription.id),
        )
        .await
        .unwrap();
    // The quota it already has.
    w.store
        .change_subscription_quota(
            w.subscription.id,
            &w.subscription.quota,
            at(40),
            &audit("subscription.quota", "subscription", w.subscription.id),
        )
        .await
        .unwrap();

    assert_eq!(record_of(&w.store, w.user.id).await.version, version);
    assert_eq!(user_jobs_of(&w.db, w.user.id).await, jobs);
}

#[tokio::test]
async fn an_access_record_has_the_user_all_their_subscriptions_and_both_versions() {
    let w = world().await;
    let other_model = insert_model(&w.store, "anthropic/claude").await;
    let mut requested = subscription(w.user.id, &other_model, Pending);
    requested.status_reason = Some("for the summariser".to_owned());
    w.store
        .insert_subscription(
            &requested,
            &audit("subscription.request", "subscription", requested.id),
        )
        .await
        .unwrap();
    let bob = insert_user(&w.store, "bob").await;
    let bobs = subscribe(&w.store, bob.id, &w.model).await;

    let record = record_of(&w.store, w.user.id).await;

    assert_eq!(record.user, w.user);
    let mut expected = vec![w.subscription.clone(), requested];
    expected.sort_by_key(|s| s.id.0);
    let mut subscriptions = record.subscriptions.clone();
    subscriptions.sort_by_key(|s| s.id.0);
    assert_eq!(subscriptions, expected);
    assert_eq!(
        (record.version, record.synced_version),
        (3, 0),
        "a new user starts at 1 and each subscription raised it"
    );
    assert!(record.is_pending());
    assert_eq!(record_of(&w.store, bob.id).await.subscriptions, [bobs]);
}

#[tokio::test]
async fn access_records_skip_unknown_users_and_give_users_without_subscriptions_an_empty_list() {
    let w = world().await;
    let bob = insert_user(&w.store, "bob").await;

    let mut records = w
        .store
        .access_records(&[w.user.id, UserId::new(), bob.id])
        .await
        .unwrap();
    records.sort_by_key(|r| r.user.username.clone());

    let summary: Vec<_> = records
        .iter()
        .map(|r| {
            (
                r.user.id,
                r.subscriptions.len(),
                r.version,
                r.synced_version,
            )
        })
        .collect();
    assert_eq!(summary, [(w.user.id, 1, 2, 0), (bob.id, 0, 1, 0)]);
    assert_eq!(w.store.access_record(UserId::new()).await.unwrap(), None);
    assert!(w.store.access_records(&[]).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_user_is_pending_until_their_current_version_is_marked_synced() {
    let w = world().await;
    let read = record_of(&w.store, w.user.id).await;
    assert!(read.is_pending());

    w.store
        .mark_access_synced(w.user.id, read.version, at(30))
        .await
        .unwrap();

    let synced = record_of(&w.store, w.user.id).await;
    assert_eq!(synced.synced_version, read.version);
    assert!(!synced.is_pending());
    assert_eq!(sync_state_of(&w.db, w.user.id).await, (Some(at(30)), None));
}

#[tokio::test]
async fn marking_synced_never_moves_backwards_nor_past_the_current_version() {
    let w = world().await;
    let version = record_of(&w.store, w.user.id).await.version;
    w.store
        .mark_access_synced(w.user.id, version, at(30))
        .await
        .unwrap();

    w.store
        .mark_access_synced(w.user.id, version - 1, at(40))
        .await
        .unwrap();
    w.store
        .mark_access_synced(w.user.id, version + 5, at(50))
        .await
        .unwrap();

    let record = record_of(&w.store, w.user.id).await;
    assert_eq!((record.version, record.synced_version), (version, version));
    assert_eq!(sync_state_of(&w.db, w.user.id).await.0, Some(at(30)));
}

#[tokio::test]
async fn a_change_after_the_read_keeps_the_user_pending_once_the_read_version_is_marked_synced() {
    let w = world().await;
    let read = record_of(&w.store, w.user.id).await;
    w.store
        .change_subscription_quota(
            w.subscription.id,
            &limits("5", "1d", 1_000, 10),
            at(20),
            &audit("subscription.quota", "subscription", w.subscription.id),
        )
        .await
        .unwrap();

    w.store
        .mark_access_synced(w.user.id, read.version, at(30))
        .await
        .unwrap();

    let record = record_of(&w.store, w.user.id).await;
    assert_eq!(record.synced_version, read.version);
    assert_eq!(record.version, read.version + 1);
    assert!(record.is_pending());
}

#[tokio::test]
async fn an_access_error_is_kept_until_the_user_is_marked_synced() {
    let w = world().await;

    w.store
        .record_access_error(w.user.id, "LiteLLM unavailable", at(20))
        .await
        .unwrap();

    assert_eq!(
        sync_state_of(&w.db, w.user.id).await,
        (None, Some("LiteLLM unavailable".to_owned()))
    );
    let record = record_of(&w.store, w.user.id).await;
    assert!(record.is_pending());

    w.store
        .mark_access_synced(w.user.id, record.version, at(30))
        .await
        .unwrap();
    assert_eq!(sync_state_of(&w.db, w.user.id).await, (Some(at(30)), None));
}

#[tokio::test]
async fn enqueuing_converge_users_queues_one_job_per_known_user_due_at_the_earlier_time() {
    let db = TestDb::new().await;
    let store = db.store();
    let alice = insert_user(&store, "alice").await;
    let bob = insert_user(&store, "bob").await;

    store
        .enqueue_converge_users(&[alice.id, UserId::new(), bob.id], at(20))
        .await
        .unwrap();
    store
        .enqueue_converge_users(&[alice.id], at(30))
        .await
        .unwrap();
    store
        .enqueue_converge_users(&[bob.id], at(10))
        .await
        .unwrap();
    store.enqueue_converge_users(&[], at(0)).await.unwrap();

    assert_eq!(pending_user_jobs_of(&db, alice.id).await, [at(20)]);
    assert_eq!(pending_user_jobs_of(&db, bob.id).await, [at(10)]);
    assert_eq!(store.job_summary().await.unwrap().pending, 2);
}

#[tokio::test]
async fn enqueuing_converge_users_for_unknown_users_queues_nothing() {
    let db = TestDb::new().await;
    let store = db.store();

    store
        .enqueue_converge_users(&[UserId::new(), UserId::new()], at(20))
        .await
        .unwrap();

    assert_eq!(store.job_summary().await.unwrap().pending, 0);
}

#[tokio::test]
async fn a_claimed_converge_user_job_names_its_user() {
    let w = world().await;

    let claimed = w.store.claim_jobs(at(1), at(60), 10).await.unwrap();

    assert_eq!(claimed.len(), 1);
    let job = &claimed[0];
    assert_eq!(job.kind, JobKind::ConvergeUser);
    assert_eq!(job.user_id, Some(w.user.id));
    assert_eq!(job.api_key_id, None);
    assert_eq!((job.status, job.attempts), (JobStatus::Running, 1));
    assert_eq!(
        w.store.list_jobs(JobStatus::Running, 10).await.unwrap(),
        claimed
    );
}

#[tokio::test]
async fn retrying_a_converge_user_job_while_a_new_one_is_pending_for_the_user_merges_it_into_that_one(
) {
    let w = world().await;
    let running = w
        .store
        .claim_jobs(at(1), at(60), 10)
        .await
        .unwrap()
        .remove(0);
    w.store
        .change_subscription_quota(
            w.subscription.id,
            &limits("5", "1d", 1_000, 10),
            at(50),
            &audit("subscription.quota", "subscription", w.subscription.id),
        )
        .await
        .unwrap();

    w.store
        .retry_job(running.id, "LiteLLM unavailable", at(30), at(5))
        .await
        .unwrap();

    assert_eq!(
        user_jobs_of(&w.db, w.user.id).await,
        [
            ("done".to_owned(), at(0), 1),
            ("pending".to_owned(), at(30), 0)
        ],
        "one pending job, due at the earlier time"
    );
    let ended = w.store.list_jobs(JobStatus::Done, 10).await.unwrap();
    assert_eq!(ended[0].id, running.id);
    assert_eq!(ended[0].last_error.as_deref(), Some("LiteLLM unavailable"));
}

#[tokio::test]
async fn a_retried_converge_user_job_without_a_newer_one_is_pending_again() {
    let w = world().await;
    let running = w
        .store
        .claim_jobs(at(1), at(60), 10)
        .await
        .unwrap()
        .remove(0);

    w.store
        .retry_job(running.id, "LiteLLM unavailable", at(30), at(5))
        .await
        .unwrap();

    assert_eq!(
        user_jobs_of(&w.db, w.user.id).await,
        [("pending".to_owned(), at(30), 1)]
    );
}

#[tokio::test]
async fn a_quota_change_queues_the_owners_converge_user_job() {
    let w = world().await;
    claim_all(&w.store).await;
    let version = record_of(&w.store, w.user.id).await.version;

    w.store
        .change_subscription_quota(
            w.subscription.id,
            &limits("5", "1d", 1_000, 10),
            at(20),
            &audit("subscription.quota", "subscription", w.subscription.id),
        )
        .await
        .unwrap();

    assert_eq!(pending_user_jobs_of(&w.db, w.user.id).await, [at(20)]);
    assert_eq!(record_of(&w.store, w.user.id).await.version, version + 1);
}
