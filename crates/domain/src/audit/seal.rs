use crate::audit::AuditTrail;
use crate::Error;
use std::sync::Arc;

/// Events sealed per transaction: short transactions, so that a backlog (e.g. after a migration) is sealed
/// without holding the sealer's lock for long.
pub const SEAL_BATCH: u32 = 1_000;

/// What a sealing run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SealReport {
    /// Events appended to the chain.
    pub sealed: u64,
    /// Another sealer (another replica, or `keyport audit verify`) was at work, so this run stopped.
    pub busy: bool,
}

/// Seals the audit events of finished transactions into the hash chain, batch after batch until none is
/// left. Run every second by the server and before each verification; any number of replicas may run it,
/// one seals at a time and the others skip.
pub struct SealAudit {
    trail: Arc<dyn AuditTrail>,
}

impl SealAudit {
    pub fn new(trail: Arc<dyn AuditTrail>) -> Self {
        Self { trail }
    }

    pub async fn execute(&self) -> Result<SealReport, Error> {
        let mut report = SealReport::default();
        loop {
            match self.trail.seal(SEAL_BATCH).await? {
                None => {
                    report.busy = true;
                    return Ok(report);
                }
                Some(count) => {
                    report.sealed += u64::from(count);
                    if count < SEAL_BATCH {
                        return Ok(report);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::MockAuditTrail;
    use crate::StoreError;
    use mockall::Sequence;

    #[tokio::test]
    async fn sealing_goes_on_while_batches_come_back_full() {
        let mut trail = MockAuditTrail::new();
        let mut seq = Sequence::new();
        for count in [SEAL_BATCH, SEAL_BATCH, 7] {
            trail
                .expect_seal()
                .withf(|batch| *batch == SEAL_BATCH)
                .times(1)
                .in_sequence(&mut seq)
                .returning(move |_| Ok(Some(count)));
        }
        let report = SealAudit::new(Arc::new(trail)).execute().await.unwrap();
        assert_eq!(
            report,
            SealReport {
                sealed: 2 * u64::from(SEAL_BATCH) + 7,
                busy: false
            }
        );
    }

    #[tokio::test]
    async fn another_sealer_at_work_ends_the_run_without_error() {
        let mut trail = MockAuditTrail::new();
        let mut seq = Sequence::new();
        trail
            .expect_seal()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(Some(SEAL_BATCH)));
        trail
            .expect_seal()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(None));
        let report = SealAudit::new(Arc::new(trail)).execute().await.unwrap();
        assert_eq!(
            report,
            SealReport {
                sealed: u64::from(SEAL_BATCH),
                busy: true
            }
        );
    }

    #[tokio::test]
    async fn a_chain_the_store_refuses_to_extend_is_an_error() {
        let mut trail = MockAuditTrail::new();
        trail
            .expect_seal()
            .returning(|_| Err(StoreError::Unexpected("head event gone".into())));
        let err = SealAudit::new(Arc::new(trail)).execute().await.unwrap_err();
        assert!(matches!(err, Error::Internal(_)), "{err:?}");
    }
}
