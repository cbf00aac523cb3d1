use crate::jobs::JobStore;
use crate::jobs::{Job, JobStatus, JobSummary};
use crate::users::{Actor, Role};
use crate::Error;
use std::sync::Arc;

/// The most jobs one listing answers.
pub const MAX_JOBS_LISTED: u32 = 500;

/// The outbox as administrators see it: how many jobs are pending, running and dead, and the jobs in one
/// status (dead ones with their last error). Admins and auditors only.
pub struct ListJobs {
    jobs: Arc<dyn JobStore>,
}

impl ListJobs {
    pub fn new(jobs: Arc<dyn JobStore>) -> Self {
        Self { jobs }
    }

    pub async fn execute(
        &self,
        actor: &Actor,
        status: JobStatus,
        limit: u32,
    ) -> Result<(JobSummary, Vec<Job>), Error> {
        if !actor
            .roles
            .iter()
            .any(|r| matches!(r, Role::Admin | Role::Auditor))
        {
            return Err(Error::Forbidden(
                "only administrators and auditors see the job queue".into(),
            ));
        }
        let summary = self.jobs.job_summary().await?;
        let jobs = self
            .jobs
            .list_jobs(status, limit.clamp(1, MAX_JOBS_LISTED))
            .await?;
        Ok((summary, jobs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::*;
    use crate::jobs::MockJobStore;

    #[tokio::test]
    async fn only_admins_and_auditors_see_the_jobs() {
        let mut jobs = MockJobStore::new();
        jobs.expect_job_summary().times(2).returning(|| {
            Ok(JobSummary {
                dead: 1,
                ..JobSummary::default()
            })
        });
        jobs.expect_list_jobs()
            .times(2)
            .withf(|s, limit| *s == JobStatus::Dead && *limit == MAX_JOBS_LISTED)
            .returning(|_, _| Ok(vec![]));
        let uc = ListJobs::new(Arc::new(jobs));
        assert!(matches!(
            uc.execute(&alice(), JobStatus::Dead, 10_000)
                .await
                .unwrap_err(),
            Error::Forbidden(_)
        ));
        for role in [Role::Admin, Role::Auditor] {
            let mut actor = alice();
            actor.roles.push(role);
            let (summary, _) = uc.execute(&actor, JobStatus::Dead, 10_000).await.unwrap();
            assert_eq!(summary.dead, 1);
        }
    }
}
