//! The record of reconcile passes: when each ran, where it came from and what it found, so that admins can
//! see the reconciler's health without reading logs.

use crate::error::StoreError;
use crate::reconcile::{FindingKind, ReconcileReport};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

/// What started a pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReconcileTrigger {
    /// The periodic pass of `keyport serve`.
    Background,
    /// `keyport reconcile`.
    Command,
}

impl ReconcileTrigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Background => "background",
            Self::Command => "command",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "background" => Some(Self::Background),
            "command" => Some(Self::Command),
            _ => None,
        }
    }
}

/// One pass, finished or failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReconcileRun {
    /// Assigned by the store; 0 before it is recorded.
    pub id: i64,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub trigger: ReconcileTrigger,
    pub dry_run: bool,
    pub litellm_keys: u64,
    pub keyport_rows: u64,
    pub litellm_calls: u64,
    /// Findings by kind (`orphan`, `drift`, …); kinds with none are left out.
    pub findings: BTreeMap<String, u64>,
    pub fixed: u64,
    /// Why the pass failed; `None` when it completed.
    pub error: Option<String>,
}

impl ReconcileRun {
    /// The record of a completed pass.
    pub fn completed(
        report: &ReconcileReport,
        trigger: ReconcileTrigger,
        started_at: DateTime<Utc>,
        finished_at: DateTime<Utc>,
    ) -> Self {
        let mut findings = BTreeMap::new();
        for kind in FindingKind::ALL {
            let n = report.count(kind) as u64;
            if n > 0 {
                findings.insert(kind.as_str().to_owned(), n);
            }
        }
        Self {
            id: 0,
            started_at,
            finished_at,
            trigger,
            dry_run: report.dry_run,
            litellm_keys: report.litellm_keys,
            keyport_rows: report.keyport_rows,
            litellm_calls: report.litellm_calls,
            findings,
            fixed: report.fixed() as u64,
            error: None,
        }
    }

    /// The record of a pass that failed part-way.
    pub fn failed(
        error: impl ToString,
        trigger: ReconcileTrigger,
        dry_run: bool,
        started_at: DateTime<Utc>,
        finished_at: DateTime<Utc>,
    ) -> Self {
        Self {
            id: 0,
            started_at,
            finished_at,
            trigger,
            dry_run,
            litellm_keys: 0,
            keyport_rows: 0,
            litellm_calls: 0,
            findings: BTreeMap::new(),
            fixed: 0,
            error: Some(error.to_string()),
        }
    }
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait ReconcileLog: Send + Sync {
    async fn record_run(&self, run: &ReconcileRun) -> Result<(), StoreError>;
    /// The latest passes, newest first.
    async fn recent_runs(&self, limit: u32) -> Result<Vec<ReconcileRun>, StoreError>;
}
