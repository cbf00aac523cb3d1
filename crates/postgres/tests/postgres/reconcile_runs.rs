use crate::common::*;
use keyport_domain::reconcile::{ReconcileLog, ReconcileRun, ReconcileTrigger};
use keyport_testkit::TestDb;
use std::collections::BTreeMap;

fn run(seconds: i64, trigger: ReconcileTrigger) -> ReconcileRun {
    ReconcileRun {
        id: 0,
        started_at: at(seconds),
        finished_at: at(seconds + 3),
        trigger,
        dry_run: false,
        litellm_keys: 120,
        keyport_rows: 118,
        litellm_calls: 4,
        findings: BTreeMap::from([("orphan".to_owned(), 2), ("drift".to_owned(), 1)]),
        fixed: 3,
        error: None,
    }
}

#[tokio::test]
async fn runs_are_recorded_and_read_newest_first() {
    let db = TestDb::new().await;
    let store = db.store();
    store
        .record_run(&run(0, ReconcileTrigger::Background))
        .await
        .unwrap();
    store
        .record_run(&ReconcileRun::failed(
            "LiteLLM unavailable: timeout",
            ReconcileTrigger::Command,
            true,
            at(60),
            at(61),
        ))
        .await
        .unwrap();
    store
        .record_run(&run(30, ReconcileTrigger::Command))
        .await
        .unwrap();

    let runs = store.recent_runs(2).await.unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(
        runs[0].error.as_deref(),
        Some("LiteLLM unavailable: timeout")
    );
    assert!(runs[0].dry_run && runs[0].findings.is_empty());
    let second = ReconcileRun {
        id: runs[1].id,
        ..run(30, ReconcileTrigger::Command)
    };
    assert_eq!(runs[1], second);
    assert!(runs[1].id > 0);
    assert_eq!(store.recent_runs(10).await.unwrap().len(), 3);
}
