use crate::access::ConvergeUser;
use crate::jobs::JobStore;
use crate::jobs::{Backoff, Job, JobKind};
use crate::keys::ApiKeyStore;
use crate::keys::{ConvergeKey, Converged};
use crate::runtime::{Clock, SecretGenerator};
use crate::Error;
use chrono::Duration;
use std::sync::Arc;

/// What one pass of the worker did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobRunReport {
    pub claimed: usize,
    pub done: usize,
    pub retried: usize,
    pub dead: usize,
    /// Keys found past their expiry and marked `expired` in this pass.
    pub expired_keys: usize,
}

/// One pass of the job worker: mark keys past their expiry `expired` (each with a job), claim due jobs,
/// run them, and record each outcome — done, retried later with backoff and jitter, or dead after the last
/// attempt with its error kept. Several workers, in one process or in several replicas, may run passes at
/// once: claiming uses `FOR UPDATE SKIP LOCKED`, and every job is idempotent.
pub struct RunJobs {
    jobs: Arc<dyn JobStore>,
    keys: Arc<dyn ApiKeyStore>,
    converge: Arc<ConvergeKey>,
    converge_user: Arc<ConvergeUser>,
    clock: Arc<dyn Clock>,
    secrets: Arc<dyn SecretGenerator>,
    backoff: Backoff,
    lease: Duration,
}

impl RunJobs {
    pub fn new(
        jobs: Arc<dyn JobStore>,
        keys: Arc<dyn ApiKeyStore>,
        converge: Arc<ConvergeKey>,
        converge_user: Arc<ConvergeUser>,
        clock: Arc<dyn Clock>,
        secrets: Arc<dyn SecretGenerator>,
        backoff: Backoff,
    ) -> Self {
        Self {
            jobs,
            keys,
            converge,
            converge_user,
            clock,
            secrets,
            backoff,
            lease: Duration::minutes(2),
        }
    }

    pub async fn run_once(&self, limit: u32) -> Result<JobRunReport, Error> {
        let mut report = JobRunReport::default();
        let now = self.clock.now();
        match self.keys.expire_due_keys(now).await {
            Ok(expired) => report.expired_keys = expired.len(),
            Err(error) => tracing::warn!(%error, "could not mark expired keys"),
        }
        let claimed = self.jobs.claim_jobs(now, now + self.lease, limit).await?;
        report.claimed = claimed.len();
        for job in claimed {
            match self.run(&job).await {
                Ok(()) => {
                    self.jobs.complete_job(job.id, self.clock.now()).await?;
                    report.done += 1;
                }
                Err(error) => {
                    let message = error.to_string();
                    let now = self.clock.now();
                    match self.backoff.next_run(job.attempts, now, self.jitter()) {
                        Some(run_at) => {
                            tracing::info!(job = job.id, attempts = job.attempts, error = %message, %run_at, "job failed; retrying later");
                            self.jobs.retry_job(job.id, &message, run_at, now).await?;
                            report.retried += 1;
                        }
                        None => {
                            tracing::error!(job = job.id, attempts = job.attempts, error = %message, "job failed for the last time; it is dead");
                            self.jobs.bury_job(job.id, &message, now).await?;
                            report.dead += 1;
                        }
                    }
                }
            }
        }
        Ok(report)
    }

    async fn run(&self, job: &Job) -> Result<(), Error> {
        match job.kind {
            JobKind::ConvergeKey => {
                let Some(key) = job.api_key_id else {
                    return Err(Error::Internal("a converge_key job without a key".into()));
                };
                match self.converge.execute(key).await {
                    // The deletion at the deadline needs a job of its own: the one that was queued for it
                    // may have been merged into an earlier one (this one).
                    Ok(Converged::WaitingForDeadline(at)) => {
                        self.jobs.enqueue_converge(key, at).await?;
                        Ok(())
                    }
                    Ok(_) => Ok(()),
                    // Another change moved the key first; the job it queued converges it.
                    Err(Error::Conflict { .. }) => Ok(()),
                    Err(other) => Err(other),
                }
            }
            JobKind::ConvergeUser => {
                let Some(user) = job.user_id else {
                    return Err(Error::Internal("a converge_user job without a user".into()));
                };
                self.converge_user.execute(user).await.map(|_| ())
            }
        }
    }

    fn jitter(&self) -> f64 {
        f64::from(self.secrets.random_bytes()[0]) / 256.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::MockAccessStore;
    use crate::fixtures::*;
    use crate::gateway::MockGateway;
    use crate::ids::ApiKeyId;
    use crate::ids::UserId;
    use crate::jobs::JobStatus;
    use crate::jobs::MockJobStore;
    use crate::keys::ApiKeyStatus;
    use crate::keys::MockApiKeyStore;
    use crate::subscriptions::SubscriptionStatus;
    use crate::users::UserStatus;
    use crate::GatewayError;
    use std::sync::Mutex;

    fn job(id: i64, attempts: u32) -> Job {
        Job {
            id,
            kind: JobKind::ConvergeKey,
            api_key_id: Some(ApiKeyId::new()),
            user_id: None,
            status: JobStatus::Running,
            attempts,
            run_at: now(),
            last_error: None,
            created_at: now(),
            updated_at: now(),
        }
    }

    fn user_job(id: i64, user: Option<UserId>) -> Job {
        Job {
            kind: JobKind::ConvergeUser,
            api_key_id: None,
            user_id: user,
            ..job(id, 1)
        }
    }

    /// A worker whose revoked keys' deletion answers `delete`.
    fn worker(jobs: MockJobStore, delete: fn() -> Result<(), GatewayError>) -> RunJobs {
        worker_with(jobs, delete, converge_user_offline())
    }

    fn worker_with(
        jobs: MockJobStore,
        delete: fn() -> Result<(), GatewayError>,
        converge_user: Arc<ConvergeUser>,
    ) -> RunJobs {
        let mut keys = MockApiKeyStore::new();
        keys.expect_expire_due_keys()
            .returning(|_| Ok(vec![ApiKeyId::new()]));
        keys.expect_get_key()
            .returning(|_| Ok(Some(api_key(alice().user_id, ApiKeyStatus::Revoked))));
        keys.expect_mark_key_synced().returning(|_, _| Ok(()));
        let mut gateway = MockGateway::new();
        gateway.expect_delete_key().returning(move |_| delete());
        let keys: Arc<dyn ApiKeyStore> = Arc::new(keys);
        let converge = ConvergeKey::new(
            keys.clone(),
            Arc::new(MockAccessStore::new()),
            converge_user_offline(),
            Arc::new(gateway),
            fixed_clock(),
            settings_source(),
        );
        RunJobs::new(
            Arc::new(jobs),
            keys,
            Arc::new(converge),
            converge_user,
            fixed_clock(),
            fixed_secrets(),
            Backoff::default(),
        )
    }

    #[tokio::test]
    async fn a_job_that_succeeds_is_completed() {
        let mut jobs = MockJobStore::new();
        jobs.expect_claim_jobs()
            .times(1)
            .withf(|n, lease, limit| *lease > *n && *limit == 10)
            .returning(|_, _, _| Ok(vec![job(1, 1)]));
        jobs.expect_complete_job()
            .times(1)
            .withf(|id, _| *id == 1)
            .returning(|_, _| Ok(()));
        jobs.expect_retry_job().never();
        let report = worker(jobs, || Ok(())).run_once(10).await.unwrap();
        assert_eq!(
            report,
            JobRunReport {
                claimed: 1,
                done: 1,
                retried: 0,
                dead: 0,
                expired_keys: 1
            }
        );
    }

    #[tokio::test]
    async fn a_failing_job_is_retried_later_with_its_error_and_buried_after_the_last_attempt() {
        let mut jobs = MockJobStore::new();
        jobs.expect_claim_jobs()
            .returning(|_, _, _| Ok(vec![job(1, 1), job(2, Backoff::default().max_attempts)]));
        jobs.expect_complete_job().never();
        jobs.expect_retry_job()
            .times(1)
            .withf(|id, error, run_at, at| {
                *id == 1 && error.contains("unavailable") && *run_at > *at
            })
            .returning(|_, _, _, _| Ok(()));
        jobs.expect_bury_job()
            .times(1)
            .withf(|id, error, _| *id == 2 && error.contains("unavailable"))
            .returning(|_, _, _| Ok(()));
        let report = worker(jobs, || Err(GatewayError::Unavailable("refused".into())))
            .run_once(10)
            .await
            .unwrap();
        assert_eq!((report.retried, report.dead), (1, 1));
    }

    #[tokio::test]
    async fn a_converge_user_job_brings_litellm_in_line_with_its_users_subscriptions() {
        let bob = bob().user_id;
        let mut access = MockAccessStore::new();
        access
            .expect_access_record()
            .times(1)
            .withf(move |u| *u == bob)
            .returning(move |_| {
                let mut record = access_record(
                    bob,
                    UserStatus::Active,
                    vec![subscription(bob, "gpt-4o-mini", SubscriptionStatus::Active)],
                );
                record.version = 4;
                Ok(Some(record))
            });
        let synced = record_access_synced(&mut access);
        let sent = Arc::new(Mutex::new(Vec::new()));
        let mut gateway = MockGateway::new();
        gateway.expect_ensure_user().returning(|_| Ok(()));
        let c = sent.clone();
        gateway.expect_set_user_access().returning(move |a| {
            c.lock().unwrap().push(a.clone());
            Ok(())
        });
        gateway.expect_ensure_team().returning(|_| Ok(()));
        let converge_user = Arc::new(ConvergeUser::new(
            Arc::new(access),
            Arc::new(gateway),
            fixed_clock(),
        ));
        let mut jobs = MockJobStore::new();
        jobs.expect_claim_jobs()
            .returning(move |_, _, _| Ok(vec![user_job(7, Some(bob))]));
        jobs.expect_complete_job()
            .times(1)
            .withf(|id, _| *id == 7)
            .returning(|_, _| Ok(()));
        jobs.expect_retry_job().never();
        let report = worker_with(jobs, || Ok(()), converge_user)
            .run_once(10)
            .await
            .unwrap();
        assert_eq!((report.claimed, report.done), (1, 1));
        assert_eq!(*synced.lock().unwrap(), [(bob, 4)]);
        let sent = sent.lock().unwrap();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].user_id, bob);
        assert_eq!(
            sent[0].models,
            [crate::ids::ModelId::parse("gpt-4o-mini").unwrap()]
        );
    }

    #[tokio::test]
    async fn a_converge_user_job_without_a_user_is_an_error() {
        let mut access = MockAccessStore::new();
        access.expect_access_record().never();
        let converge_user = Arc::new(ConvergeUser::new(
            Arc::new(access),
            Arc::new(MockGateway::new()),
            fixed_clock(),
        ));
        let mut jobs = MockJobStore::new();
        jobs.expect_claim_jobs()
            .returning(|_, _, _| Ok(vec![user_job(8, None)]));
        jobs.expect_complete_job().never();
        let errors = Arc::new(Mutex::new(Vec::new()));
        let e = errors.clone();
        jobs.expect_retry_job().returning(move |id, error, _, _| {
            e.lock().unwrap().push((id, error.to_owned()));
            Ok(())
        });
        let report = worker_with(jobs, || Ok(()), converge_user)
            .run_once(10)
            .await
            .unwrap();
        assert_eq!((report.done, report.retried), (0, 1));
        let errors = errors.lock().unwrap();
        assert_eq!(errors[0].0, 8);
        assert!(errors[0].1.contains("without a user"), "{}", errors[0].1);
    }
}
