use crate::reconcile::{ReconcileLog, ReconcileRun};
use crate::users::Actor;
use crate::Error;
use std::sync::Arc;

/// How many passes the status shows at most.
pub const MAX_RUNS_LISTED: u32 = 100;

/// The reconciler's recent passes, newest first: when they ran, what they found and fixed, and failures.
/// Administrators and auditors only.
pub struct ReconcileStatus {
    log: Arc<dyn ReconcileLog>,
}

impl ReconcileStatus {
    pub fn new(log: Arc<dyn ReconcileLog>) -> Self {
        Self { log }
    }

    pub async fn execute(&self, actor: &Actor, limit: u32) -> Result<Vec<ReconcileRun>, Error> {
        if !actor.can_oversee() {
            return Err(Error::Forbidden(
                "only administrators and auditors see the reconciler's status".into(),
            ));
        }
        if limit == 0 || limit > MAX_RUNS_LISTED {
            return Err(Error::invalid("limit", format!("1 to {MAX_RUNS_LISTED}")));
        }
        Ok(self.log.recent_runs(limit).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::*;
    use crate::reconcile::{MockReconcileLog, ReconcileTrigger};
    use crate::users::Role;

    #[tokio::test]
    async fn auditors_see_the_runs_and_users_do_not() {
        let mut log = MockReconcileLog::new();
        log.expect_recent_runs()
            .times(1)
            .withf(|limit| *limit == 10)
            .returning(|_| {
                Ok(vec![ReconcileRun::failed(
                    "LiteLLM unavailable",
                    ReconcileTrigger::Background,
                    false,
                    now(),
                    now(),
                )])
            });
        let uc = ReconcileStatus::new(Arc::new(log));
        let mut auditor = alice();
        auditor.roles.push(Role::Auditor);
        let runs = uc.execute(&auditor, 10).await.unwrap();
        assert_eq!(runs[0].error.as_deref(), Some("LiteLLM unavailable"));
        assert!(matches!(
            uc.execute(&bob(), 10).await.unwrap_err(),
            Error::Forbidden(_)
        ));
        assert!(matches!(
            uc.execute(&auditor, 0).await.unwrap_err(),
            Error::Invalid(_)
        ));
    }
}
