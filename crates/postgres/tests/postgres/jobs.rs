//! The outbox, from the workers' side.

use crate::common::*;
use chrono::{DateTime, Utc};
use diesel_async::{AsyncConnection, RunQueryDsl};
use keyport_domain::ids::ApiKeyId;
use keyport_domain::jobs::JobStore;
use keyport_domain::jobs::{Job, JobKind, JobStatus, JobSummary};
use keyport_domain::StoreError;
use keyport_postgres::PgStore;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

/// The world without the `converge_user` job its subscription queued: these tests are about key jobs.
#[expect(
    clippy::unwrap_used,
    reason = "test fixture: a failed setup must fail the test"
)]
async fn key_world() -> World {
    let w = world().await;
    sql(&w.db, "DELETE FROM jobs WHERE kind = 'converge_user'")
        .await
        .unwrap();
    w
}

/// `count` keys of the world's user, each with a converge job due at `run_at(i)`.
#[expect(
    clippy::unwrap_used,
    reason = "test fixture: a failed setup must fail the test"
)]
async fn keys_with_jobs(
    w: &World,
    count: usize,
    run_at: impl Fn(usize) -> DateTime<Utc>,
) -> Vec<ApiKeyId> {
    let mut keys = Vec::with_capacity(count);
    for i in 0..count {
        let key = new_key(w.user.id, &format!("key {i}"), &[w.subscription.id]);
        insert_key(&w.store, &key).await;
        w.store.enqueue_converge(key.id, run_at(i)).await.unwrap();
        keys.push(key.id);
    }
    keys
}

#[expect(
    clippy::unwrap_used,
    reason = "test fixture: a failed setup must fail the test"
)]
async fn job_of(w: &World, key: ApiKeyId) -> Job {
    let mut jobs = Vec::new();
    for status in [
        JobStatus::Pending,
        JobStatus::Running,
        JobStatus::Done,
        JobStatus::Dead,
    ] {
        jobs.extend(
            w.store
                .list_jobs(status, 1_000)
                .await
                .unwrap()
                .into_iter()
                .filter(|job| job.api_key_id == Some(key)),
        );
    }
    assert_eq!(jobs.len(), 1, "{key} has one job: {jobs:?}");
    jobs.remove(0)
}

#[tokio::test]
async fn an_enqueued_job_is_pending_and_enqueuing_again_keeps_one_due_at_the_earlier_time() {
    let w = key_world().await;
    let key = new_key(w.user.id, "ci", &[w.subscription.id]);
    insert_key(&w.store, &key).await;

    w.store.enqueue_converge(key.id, at(10)).await.unwrap();
    w.store.enqueue_converge(key.id, at(20)).await.unwrap();
    assert_eq!(pending_jobs_of(&w.db, key.id).await, [at(10)]);
    w.store.enqueue_converge(key.id, at(5)).await.unwrap();
    assert_eq!(pending_jobs_of(&w.db, key.id).await, [at(5)]);

    let job = job_of(&w, key.id).await;
    assert_eq!(job.kind, JobKind::ConvergeKey);
    assert_eq!(job.status, JobStatus::Pending);
    assert_eq!((job.attempts, job.last_error), (0, None));
}

#[tokio::test]
async fn enqueuing_for_an_unknown_key_is_not_found() {
    let w = key_world().await;
    assert_eq!(
        w.store.enqueue_converge(ApiKeyId::new(), at(0)).await,
        Err(StoreError::NotFound)
    );
}

#[tokio::test]
async fn claiming_takes_due_jobs_earliest_first_up_to_the_limit_and_leases_them() {
    let w = key_world().await;
    // Due at 30, 10, 20; the fourth is not due yet.
    let keys = keys_with_jobs(&w, 4, |i| at([30, 10, 20, 1_000][i])).await;

    let first = w.store.claim_jobs(at(100), at(160), 2).await.unwrap();
    let second = w.store.claim_jobs(at(100), at(160), 2).await.unwrap();
    let third = w.store.claim_jobs(at(100), at(160), 2).await.unwrap();

    let claimed = |jobs: &[Job]| {
        jobs.iter()
            .map(|j| j.api_key_id.unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(claimed(&first), [keys[1], keys[2]]);
    assert_eq!(claimed(&second), [keys[0]]);
    assert!(third.is_empty());
    for job in first.iter().chain(&second) {
        assert_eq!(job.status, JobStatus::Running);
        assert_eq!(job.attempts, 1);
        assert_eq!(job.updated_at, at(100));
    }
    assert_eq!(job_of(&w, keys[3]).await.status, JobStatus::Pending);
    assert!(w
        .store
        .claim_jobs(at(100), at(160), 0)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn a_running_job_whose_lease_ended_is_claimed_again_with_one_more_attempt() {
    let w = key_world().await;
    let keys = keys_with_jobs(&w, 1, |_| at(0)).await;
    let claimed = w.store.claim_jobs(at(1), at(60), 10).await.unwrap();
    assert_eq!(claimed.len(), 1);

    assert!(
        w.store
            .claim_jobs(at(59), at(120), 10)
            .await
            .unwrap()
            .is_empty(),
        "the lease still runs"
    );
    assert!(
        w.store
            .claim_jobs(at(60), at(120), 10)
            .await
            .unwrap()
            .is_empty(),
        "the lease runs until its end"
    );
    let again = w.store.claim_jobs(at(61), at(121), 10).await.unwrap();

    assert_eq!(again.len(), 1);
    assert_eq!(again[0].id, claimed[0].id);
    assert_eq!(again[0].api_key_id, Some(keys[0]));
    assert_eq!(again[0].attempts, 2);
    assert_eq!(again[0].status, JobStatus::Running);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_claimers_never_claim_the_same_job() {
    const JOBS: usize = 150;
    const CLAIMERS: usize = 6;
    let w = key_world().await;
    keys_with_jobs(&w, JOBS, |i| at(i64::try_from(i % 7).unwrap())).await;
    // A pool of its own, with a connection for every claimer.
    let store = keyport_postgres::connect(w.db.url(), CLAIMERS)
        .await
        .unwrap();
    let start = Arc::new(tokio::sync::Barrier::new(CLAIMERS));

    let claimers: Vec<_> = (0..CLAIMERS)
        .map(|_| {
            let store: PgStore = store.clone();
            let start = start.clone();
            tokio::spawn(async move {
                start.wait().await;
                let mut claimed = Vec::new();
                loop {
                    let jobs = store.claim_jobs(at(100), at(400), 4).await.unwrap();
                    if jobs.is_empty() {
                        return claimed;
                    }
                    claimed.extend(jobs.into_iter().map(|job| job.id));
                }
            })
        })
        .collect();
    let mut all = Vec::new();
    let mut claimers_that_got_some = 0;
    for claimer in claimers {
        let claimed = claimer.await.unwrap();
        claimers_that_got_some += usize::from(!claimed.is_empty());
        all.extend(claimed);
    }

    let distinct: HashSet<i64> = all.iter().copied().collect();
    assert_eq!(distinct.len(), all.len(), "a job was claimed twice");
    assert_eq!(all.len(), JOBS, "every due job was claimed");
    assert!(claimers_that_got_some > 1, "the claimers ran concurrently");
    assert_eq!(
        w.store.job_summary().await.unwrap().running,
        u64::try_from(JOBS).unwrap()
    );
}

#[tokio::test]
async fn a_claimer_skips_jobs_another_transaction_holds_instead_of_waiting_for_them() {
    let w = key_world().await;
    let keys = keys_with_jobs(&w, 3, |i| at(i64::try_from(i).unwrap())).await;
    let held = job_of(&w, keys[0]).await.id;
    let mut conn = w.db.pool().get().await.unwrap();

    let claimed = conn
        .transaction::<_, diesel::result::Error, _>(async |conn| {
            diesel::sql_query(format!("SELECT id FROM jobs WHERE id = {held} FOR UPDATE"))
                .execute(conn)
                .await?;
            let claimed = tokio::time::timeout(
                Duration::from_secs(10),
                w.store.claim_jobs(at(100), at(160), 10),
            )
            .await
            .expect("claiming must not wait for the held job")
            .unwrap();
            Ok(claimed)
        })
        .await
        .unwrap();

    let claimed: Vec<_> = claimed.iter().map(|job| job.api_key_id.unwrap()).collect();
    assert_eq!(claimed, [keys[1], keys[2]]);
    let later = w.store.claim_jobs(at(100), at(160), 10).await.unwrap();
    assert_eq!(later.iter().map(|job| job.id).collect::<Vec<_>>(), [held]);
}

#[tokio::test]
async fn a_completed_job_is_done_and_never_claimed_again() {
    let w = key_world().await;
    let keys = keys_with_jobs(&w, 1, |_| at(0)).await;
    let job = w
        .store
        .claim_jobs(at(1), at(60), 10)
        .await
        .unwrap()
        .remove(0);

    w.store.complete_job(job.id, at(5)).await.unwrap();

    let done = job_of(&w, keys[0]).await;
    assert_eq!(done.status, JobStatus::Done);
    assert_eq!((done.attempts, done.updated_at), (1, at(5)));
    assert!(w
        .store
        .claim_jobs(at(1_000), at(1_060), 10)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn a_retried_job_is_pending_again_due_later_with_its_error() {
    let w = key_world().await;
    let keys = keys_with_jobs(&w, 1, |_| at(0)).await;
    let job = w
        .store
        .claim_jobs(at(1), at(60), 10)
        .await
        .unwrap()
        .remove(0);

    w.store
        .retry_job(job.id, "LiteLLM unavailable", at(30), at(5))
        .await
        .unwrap();

    let retried = job_of(&w, keys[0]).await;
    assert_eq!(retried.id, job.id);
    assert_eq!(retried.status, JobStatus::Pending);
    assert_eq!(retried.run_at, at(30));
    assert_eq!(retried.attempts, 1);
    assert_eq!(retried.last_error.as_deref(), Some("LiteLLM unavailable"));
    assert!(w
        .store
        .claim_jobs(at(29), at(89), 10)
        .await
        .unwrap()
        .is_empty());
    let again = w.store.claim_jobs(at(30), at(90), 10).await.unwrap();
    assert_eq!((again[0].id, again[0].attempts), (job.id, 2));
}

#[tokio::test]
async fn a_job_may_be_pending_while_another_for_the_same_key_runs() {
    let w = key_world().await;
    let keys = keys_with_jobs(&w, 1, |_| at(0)).await;
    let running = w
        .store
        .claim_jobs(at(1), at(60), 10)
        .await
        .unwrap()
        .remove(0);

    w.store.enqueue_converge(keys[0], at(2)).await.unwrap();

    assert_eq!(
        jobs_of(&w.db, keys[0]).await,
        [
            ("running".to_owned(), at(0), 1),
            ("pending".to_owned(), at(2), 0)
        ]
    );
    let summary = w.store.job_summary().await.unwrap();
    assert_eq!((summary.pending, summary.running), (1, 1));
    let next = w.store.claim_jobs(at(3), at(63), 10).await.unwrap();
    assert_eq!(next.len(), 1);
    assert_ne!(next[0].id, running.id);
}

#[tokio::test]
async fn retrying_a_job_while_another_is_pending_for_the_key_merges_it_into_that_one() {
    let w = key_world().await;
    let keys = keys_with_jobs(&w, 1, |_| at(0)).await;
    let running = w
        .store
        .claim_jobs(at(1), at(60), 10)
        .await
        .unwrap()
        .remove(0);
    w.store.enqueue_converge(keys[0], at(50)).await.unwrap();

    w.store
        .retry_job(running.id, "LiteLLM unavailable", at(30), at(5))
        .await
        .unwrap();

    assert_eq!(
        jobs_of(&w.db, keys[0]).await,
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
async fn a_buried_job_is_dead_with_its_error_and_never_claimed_again() {
    let w = key_world().await;
    let keys = keys_with_jobs(&w, 1, |_| at(0)).await;
    let job = w
        .store
        .claim_jobs(at(1), at(60), 10)
        .await
        .unwrap()
        .remove(0);

    w.store
        .bury_job(job.id, "LiteLLM refused", at(5))
        .await
        .unwrap();

    let dead = job_of(&w, keys[0]).await;
    assert_eq!(dead.status, JobStatus::Dead);
    assert_eq!(dead.last_error.as_deref(), Some("LiteLLM refused"));
    assert!(w
        .store
        .claim_jobs(at(1_000), at(1_060), 10)
        .await
        .unwrap()
        .is_empty());
    // A later change queues a new job: a dead one does not count as pending.
    w.store.enqueue_converge(keys[0], at(6)).await.unwrap();
    assert_eq!(pending_jobs_of(&w.db, keys[0]).await, [at(6)]);
}

#[tokio::test]
async fn finishing_a_job_that_is_not_running_changes_nothing() {
    let w = key_world().await;
    let keys = keys_with_jobs(&w, 1, |_| at(0)).await;
    let pending = job_of(&w, keys[0]).await;

    w.store.complete_job(pending.id, at(5)).await.unwrap();
    w.store
        .retry_job(pending.id, "x", at(30), at(5))
        .await
        .unwrap();
    w.store.bury_job(pending.id, "x", at(5)).await.unwrap();
    w.store.complete_job(i64::MAX, at(5)).await.unwrap();

    assert_eq!(job_of(&w, keys[0]).await, pending);
}

#[tokio::test]
async fn the_summary_counts_pending_running_and_dead_jobs_and_names_the_earliest_due_pending_one() {
    let w = key_world().await;
    assert_eq!(w.store.job_summary().await.unwrap(), JobSummary::default());
    // Claimed: the jobs due at 10 and 20 (one to bury, one to complete) and at 30 (left running).
    keys_with_jobs(&w, 6, |i| at([10, 20, 30, 40, 50, 60][i])).await;
    let claimed = w.store.claim_jobs(at(35), at(95), 3).await.unwrap();
    w.store.bury_job(claimed[0].id, "no", at(36)).await.unwrap();
    w.store.complete_job(claimed[1].id, at(36)).await.unwrap();

    assert_eq!(
        w.store.job_summary().await.unwrap(),
        JobSummary {
            pending: 3,
            running: 1,
            dead: 1,
            oldest_pending_at: Some(at(40)),
        }
    );
}

#[tokio::test]
async fn jobs_are_listed_by_status_most_recently_updated_first_up_to_the_limit() {
    let w = key_world().await;
    keys_with_jobs(&w, 4, |i| at(i64::try_from(i).unwrap())).await;
    let claimed = w.store.claim_jobs(at(10), at(70), 4).await.unwrap();
    for (n, job) in claimed.iter().enumerate() {
        w.store
            .bury_job(
                job.id,
                &format!("error {n}"),
                at(20 + i64::try_from(n).unwrap()),
            )
            .await
            .unwrap();
    }

    let dead = w.store.list_jobs(JobStatus::Dead, 3).await.unwrap();

    let ids: Vec<_> = dead.iter().map(|job| job.id).collect();
    assert_eq!(ids, [claimed[3].id, claimed[2].id, claimed[1].id]);
    assert_eq!(dead[0].last_error.as_deref(), Some("error 3"));
    assert!(w
        .store
        .list_jobs(JobStatus::Pending, 10)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retrying_a_job_while_a_pending_one_for_the_key_is_being_committed_merges_it_into_that_one()
{
    let w = key_world().await;
    let keys = keys_with_jobs(&w, 1, |_| at(0)).await;
    let running = w
        .store
        .claim_jobs(at(1), at(60), 10)
        .await
        .unwrap()
        .remove(0);
    let mut conn = w.db.pool().get().await.unwrap();

    let retry = conn
        .transaction::<_, diesel::result::Error, _>(async |conn| {
            // A change queues a job for the key and has not committed yet when the retry starts: the retry
            // waits for it on jobs_one_pending_per_key.
            diesel::sql_query(format!(
                "INSERT INTO jobs (kind, api_key_id, run_at) VALUES ('converge_key', '{}', '{}')",
                keys[0],
                at(50).to_rfc3339()
            ))
            .execute(conn)
            .await?;
            let store = w.store.clone();
            let retry = tokio::spawn(async move {
                store
                    .retry_job(running.id, "LiteLLM unavailable", at(30), at(5))
                    .await
            });
            tokio::time::sleep(Duration::from_millis(300)).await;
            assert!(!retry.is_finished(), "the retry waits for the change");
            Ok(retry)
        })
        .await
        .unwrap();

    assert_eq!(retry.await.unwrap(), Ok(()));
    assert_eq!(
        jobs_of(&w.db, keys[0]).await,
        [
            ("done".to_owned(), at(0), 1),
            ("pending".to_owned(), at(30), 0)
        ]
    );
}
