//! The job workers: tasks that run passes of the `RunJobs` use case (expire due keys, claim due jobs, run
//! them) until the server stops. Several workers, and several replicas, may run at once: claiming uses
//! `FOR UPDATE SKIP LOCKED`. A worker that dies mid-job leaves a lease that runs out, and the job is claimed
//! again; every job is idempotent.

use crate::metrics::Counters;
use crate::wiring::Wiring;
use keyport_domain::jobs::Backoff;
use keyport_domain::jobs::RunJobs;
use std::sync::Arc;
use std::time::Duration;

/// Jobs claimed per pass.
const BATCH: u32 = 20;

pub fn run_jobs(wiring: &Wiring, backoff: Backoff) -> Arc<RunJobs> {
    Arc::new(RunJobs::new(
        wiring.store.clone(),
        wiring.store.clone(),
        wiring.converge_key(wiring.stored_settings()),
        wiring.converge_user(),
        wiring.clock.clone(),
        wiring.secrets.clone(),
        backoff,
    ))
}

/// Starts `count` worker tasks on the current (actix) runtime, each polling every `poll` when idle.
pub fn spawn(jobs: Arc<RunJobs>, count: usize, poll: Duration, counters: Arc<Counters>) {
    for worker in 0..count {
        let jobs = jobs.clone();
        let counters = counters.clone();
        actix_web::rt::spawn(async move {
            loop {
                match jobs.run_once(BATCH).await {
                    Ok(report) => {
                        counters.job_pass(&report);
                        if report.claimed > 0 || report.expired_keys > 0 {
                            tracing::debug!(worker, ?report, "job pass");
                        }
                        if report.claimed as u32 == BATCH {
                            continue;
                        }
                    }
                    Err(error) => tracing::warn!(worker, %error, "job pass failed"),
                }
                tokio::time::sleep(poll).await;
            }
        });
    }
}
