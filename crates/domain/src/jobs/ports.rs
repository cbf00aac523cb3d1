//! The outbox, as the workers see it: claiming, finishing and listing jobs. Jobs are queued inside the
//! other stores' transactions.

use crate::error::StoreError;
use crate::ids::ApiKeyId;
use crate::jobs::{Job, JobStatus, JobSummary};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// The outbox. Enqueuing happens inside the stores' transactions (see the contracts above); these methods
/// are the workers' side.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait JobStore: Send + Sync {
    /// Claims up to `limit` due jobs — `pending` with `run_at <= now`, or `running` whose lease ended before
    /// `now` (a worker died) — with `FOR UPDATE SKIP LOCKED`, so that concurrent workers never claim the same
    /// job; each becomes `running` with a lease until `lease_until` and one more attempt.
    async fn claim_jobs(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Job>, StoreError>;
    async fn complete_job(&self, id: i64, at: DateTime<Utc>) -> Result<(), StoreError>;
    /// Back to `pending`, due at `run_at`, keeping the error.
    async fn retry_job(
        &self,
        id: i64,
        error: &str,
        run_at: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Gives up: `dead`, keeping the error.
    async fn bury_job(&self, id: i64, error: &str, at: DateTime<Utc>) -> Result<(), StoreError>;
    /// Queues a `ConvergeKey` job for the key, due at `run_at`, unless one is already pending for it (then
    /// the earlier due time wins).
    async fn enqueue_converge(
        &self,
        key: ApiKeyId,
        run_at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    async fn job_summary(&self) -> Result<JobSummary, StoreError>;
    /// Jobs in a status, most recently updated first.
    async fn list_jobs(&self, status: JobStatus, limit: u32) -> Result<Vec<Job>, StoreError>;
}
