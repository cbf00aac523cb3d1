//! `JobStore`, the workers' side of the outbox, and [`enqueue_converge`], which the other stores call
//! inside their own transactions so that a change and the job that brings LiteLLM in line with it commit
//! together.
//!
//! A job is `pending` (due at `run_at`), `running` (claimed until `locked_until`), `done` or `dead`. At most
//! one job per key is `pending` (`jobs_one_pending_per_key`): queuing again only moves its due time earlier.
//! Another job for the same key may be `running` meanwhile — it started before the change that queued the
//! pending one, which will run after it.

use crate::error::{diesel_error, Failure};
use crate::rows::JobRow;
use crate::schema::jobs;
use crate::PgStore;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::dsl::{count_star, min};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sql_types::{Array, BigInt, Int8, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use keyport_domain::ids::ApiKeyId;
use keyport_domain::jobs::JobStore;
use keyport_domain::jobs::{Job, JobKind, JobStatus, JobSummary};
use keyport_domain::StoreError;
use uuid::Uuid;

const PENDING: &str = "pending";
const RUNNING: &str = "running";
const DONE: &str = "done";
const DEAD: &str = "dead";

/// How often `retry_job` tries again when a pending job for the same key appears while it works.
const RETRY_RACES: usize = 3;

/// Queues a `ConvergeKey` job, due at `run_at`, for each of the keys that exist; a key that already has a
/// pending one keeps it, due at the earlier of the two times. Answers how many keys got (or kept) a job.
/// Meant to run inside the transaction of the change the jobs serve.
pub(crate) async fn enqueue_converge(
    conn: &mut AsyncPgConnection,
    keys: &[Uuid],
    run_at: DateTime<Utc>,
    at: DateTime<Utc>,
) -> Result<usize, DieselError> {
    if keys.is_empty() {
        return Ok(0);
    }
    // Selecting from api_keys names each key once (ON CONFLICT DO UPDATE refuses to touch a row twice in
    // one statement) and skips unknown ids.
    diesel::sql_query(
        "INSERT INTO jobs (kind, api_key_id, status, attempts, run_at, created_at, updated_at) \
         SELECT $1, k.id, 'pending', 0, $3, $4, $4 FROM api_keys k WHERE k.id = ANY($2) \
         ON CONFLICT (kind, api_key_id) WHERE status = 'pending' \
         DO UPDATE SET run_at = LEAST(jobs.run_at, EXCLUDED.run_at), updated_at = EXCLUDED.updated_at",
    )
    .bind::<Text, _>(JobKind::ConvergeKey.as_str())
    .bind::<Array<SqlUuid>, _>(keys)
    .bind::<Timestamptz, _>(run_at)
    .bind::<Timestamptz, _>(at)
    .execute(conn)
    .await
}

/// Queues a `ConvergeUser` job, due at `run_at`, for each of the users that exist; a user who already has
/// a pending one keeps it, due at the earlier of the two times. Meant to run inside a transaction (the
/// subscriptions' trigger does the same for every change of a subscription).
pub(crate) async fn enqueue_converge_users(
    conn: &mut AsyncPgConnection,
    users: &[Uuid],
    run_at: DateTime<Utc>,
    at: DateTime<Utc>,
) -> Result<usize, DieselError> {
    if users.is_empty() {
        return Ok(0);
    }
    diesel::sql_query(
        "INSERT INTO jobs (kind, user_id, status, attempts, run_at, created_at, updated_at) \
         SELECT $1, u.id, 'pending', 0, $3, $4, $4 FROM users u WHERE u.id = ANY($2) \
         ON CONFLICT (kind, user_id) WHERE status = 'pending' AND user_id IS NOT NULL \
         DO UPDATE SET run_at = LEAST(jobs.run_at, EXCLUDED.run_at), updated_at = EXCLUDED.updated_at",
    )
    .bind::<Text, _>(JobKind::ConvergeUser.as_str())
    .bind::<Array<SqlUuid>, _>(users)
    .bind::<Timestamptz, _>(run_at)
    .bind::<Timestamptz, _>(at)
    .execute(conn)
    .await
}

/// Moves a running job to `status` (`done` or `dead`), keeping `error` when given. A job that is no longer
/// running is left alone: its lease ran out and another worker took it over (and may have finished it).
async fn finish(
    store: &PgStore,
    id: i64,
    status: &'static str,
    error: Option<&str>,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let mut conn = store.conn().await?;
    let target = jobs::table
        .filter(jobs::id.eq(id))
        .filter(jobs::status.eq(RUNNING));
    let changes = (
        jobs::status.eq(status),
        jobs::locked_until.eq(None::<DateTime<Utc>>),
        jobs::updated_at.eq(at),
    );
    let updated = match error {
        Some(error) => {
            diesel::update(target)
                .set((changes, jobs::last_error.eq(error)))
                .execute(&mut conn)
                .await
        }
        None => diesel::update(target).set(changes).execute(&mut conn).await,
    }
    .map_err(diesel_error)?;
    if updated == 0 {
        tracing::warn!(job = id, status, "job is no longer running; left as it is");
    }
    Ok(())
}

fn is_pending_conflict(error: &DieselError) -> bool {
    matches!(
        error,
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info)
            if matches!(info.constraint_name(), Some("jobs_one_pending_per_key" | "jobs_one_pending_per_user"))
    )
}

#[derive(QueryableByName)]
struct MergedInto {
    #[diesel(sql_type = Int8)]
    id: i64,
}

#[async_trait]
impl JobStore for PgStore {
    async fn claim_jobs(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Job>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut conn = self.conn().await?;
        // One statement: the rows the subquery locks are this transaction's, and a concurrent claimer skips
        // them rather than waiting; a row another claimer has just taken no longer matches when re-read.
        let rows: Vec<JobRow> = diesel::sql_query(
            "UPDATE jobs SET status = 'running', locked_until = $2, attempts = attempts + 1, \
                 updated_at = $1 \
             WHERE id IN ( \
                 SELECT id FROM jobs \
                 WHERE (status = 'pending' AND run_at <= $1) \
                    OR (status = 'running' AND locked_until < $1) \
                 ORDER BY run_at, id \
                 LIMIT $3 \
                 FOR UPDATE SKIP LOCKED) \
             RETURNING id, kind, api_key_id, user_id, status, attempts, run_at, last_error, created_at, \
                 updated_at",
        )
        .bind::<Timestamptz, _>(now)
        .bind::<Timestamptz, _>(lease_until)
        .bind::<BigInt, _>(i64::from(limit))
        .load(&mut conn)
        .await
        .map_err(diesel_error)?;
        let mut jobs = rows
            .into_iter()
            .map(Job::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        jobs.sort_by_key(|job| (job.run_at, job.id));
        Ok(jobs)
    }

    async fn complete_job(&self, id: i64, at: DateTime<Utc>) -> Result<(), StoreError> {
        finish(self, id, DONE, None, at).await
    }

    async fn retry_job(
        &self,
        id: i64,
        error: &str,
        run_at: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        conn.transaction::<_, Failure, _>(async |conn| {
            let job = jobs::table
                .filter(jobs::id.eq(id))
                .filter(jobs::status.eq(RUNNING))
                .select((jobs::kind, jobs::api_key_id, jobs::user_id))
                .for_update()
                .first::<(String, Option<Uuid>, Option<Uuid>)>(conn)
                .await
                .optional()?;
            let Some((kind, key, user)) = job else {
                tracing::warn!(job = id, "job is no longer running; left as it is");
                return Ok(());
            };
            for _ in 0..RETRY_RACES {
                // A change queued a pending job for the key (or user) while this one ran: that job will
                // converge it, due at the earlier time; this one ends, keeping its error.
                let merged: Option<MergedInto> = diesel::sql_query(
                    "UPDATE jobs SET run_at = LEAST(run_at, $3), updated_at = $4 \
                     WHERE kind = $1 AND api_key_id IS NOT DISTINCT FROM $2 \
                       AND user_id IS NOT DISTINCT FROM $5 AND status = 'pending' RETURNING id",
                )
                .bind::<Text, _>(&kind)
                .bind::<Nullable<SqlUuid>, _>(key)
                .bind::<Timestamptz, _>(run_at)
                .bind::<Timestamptz, _>(at)
                .bind::<Nullable<SqlUuid>, _>(user)
                .get_result(conn)
                .await
                .optional()?;
                if let Some(merged) = merged {
                    tracing::debug!(
                        job = id,
                        into = merged.id,
                        "retry merged into a pending job"
                    );
                    diesel::update(jobs::table.find(id))
                        .set((
                            jobs::status.eq(DONE),
                            jobs::locked_until.eq(None::<DateTime<Utc>>),
                            jobs::last_error.eq(error),
                            jobs::updated_at.eq(at),
                        ))
                        .execute(conn)
                        .await?;
                    return Ok(());
                }
                // In a savepoint: a pending job committed meanwhile makes this refuse, and the loop merges.
                let retried = conn
                    .transaction::<_, DieselError, _>(async |conn| {
                        diesel::update(jobs::table.find(id))
                            .set((
                                jobs::status.eq(PENDING),
                                jobs::run_at.eq(run_at),
                                jobs::locked_until.eq(None::<DateTime<Utc>>),
                                jobs::last_error.eq(error),
                                jobs::updated_at.eq(at),
                            ))
                            .execute(conn)
                            .await
                    })
                    .await;
                match retried {
                    Ok(_) => return Ok(()),
                    Err(e) if is_pending_conflict(&e) => continue,
                    Err(e) => return Err(e.into()),
                }
            }
            Err(StoreError::Unavailable(
                "jobs for this key or user kept changing; try again".to_owned(),
            )
            .into())
        })
        .await
        .map_err(StoreError::from)
    }

    async fn bury_job(&self, id: i64, error: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        finish(self, id, DEAD, Some(error), at).await
    }

    async fn enqueue_converge(
        &self,
        key: ApiKeyId,
        run_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        let queued = enqueue_converge(&mut conn, &[key.0], run_at, Utc::now())
            .await
            .map_err(diesel_error)?;
        if queued == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn job_summary(&self) -> Result<JobSummary, StoreError> {
        let mut conn = self.conn().await?;
        let rows: Vec<(String, i64, Option<DateTime<Utc>>)> = jobs::table
            .filter(jobs::status.eq_any([PENDING, RUNNING, DEAD]))
            .group_by(jobs::status)
            .select((jobs::status, count_star(), min(jobs::run_at)))
            .load(&mut conn)
            .await
            .map_err(diesel_error)?;
        let mut summary = JobSummary::default();
        for (status, count, earliest_run_at) in rows {
            let count = u64::try_from(count).map_err(|e| StoreError::Unexpected(e.to_string()))?;
            match status.as_str() {
                PENDING => {
                    summary.pending = count;
                    // The earliest due time: how far behind the workers are when it is in the past.
                    summary.oldest_pending_at = earliest_run_at;
                }
                RUNNING => summary.running = count,
                _ => summary.dead = count,
            }
        }
        Ok(summary)
    }

    async fn list_jobs(&self, status: JobStatus, limit: u32) -> Result<Vec<Job>, StoreError> {
        let mut conn = self.conn().await?;
        jobs::table
            .filter(jobs::status.eq(status.as_str()))
            .order((jobs::updated_at.desc(), jobs::id.desc()))
            .limit(i64::from(limit))
            .select(JobRow::as_select())
            .load(&mut conn)
            .await
            .map_err(diesel_error)?
            .into_iter()
            .map(Job::try_from)
            .collect()
    }
}
