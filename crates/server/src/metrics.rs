//! Prometheus metrics at `/metrics`: counters the background work increments (reconciler findings and
//! fixes by kind, job outcomes, catalog syncs, audit sealing) and gauges read at scrape time (the job queue,
//! unsealed audit events).

use async_trait::async_trait;
use keyport_domain::audit::AuditTrail;
use keyport_domain::jobs::JobRunReport;
use keyport_domain::jobs::JobStore;
use keyport_domain::reconcile::{FindingKind, ReconcileReport};
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

const KINDS: [FindingKind; 7] = FindingKind::ALL;

/// The process's counters.
#[derive(Default)]
pub struct Counters {
    reconcile_passes: AtomicU64,
    reconcile_failures: AtomicU64,
    found: [AtomicU64; 7],
    fixed: [AtomicU64; 7],
    jobs_done: AtomicU64,
    jobs_retried: AtomicU64,
    jobs_dead: AtomicU64,
    keys_expired: AtomicU64,
    audit_sealed: AtomicU64,
    audit_seal_failures: AtomicU64,
}

impl Counters {
    pub fn reconcile_pass(&self, report: &ReconcileReport) {
        self.reconcile_passes.fetch_add(1, Ordering::Relaxed);
        for (i, kind) in KINDS.iter().enumerate() {
            let found = report.findings.iter().filter(|f| f.kind == *kind).count() as u64;
            let fixed = report
                .findings
                .iter()
                .filter(|f| f.kind == *kind && f.fixed)
                .count() as u64;
            self.found[i].fetch_add(found, Ordering::Relaxed);
            self.fixed[i].fetch_add(fixed, Ordering::Relaxed);
        }
    }

    pub fn reconcile_failed(&self) {
        self.reconcile_failures.fetch_add(1, Ordering::Relaxed);
    }

    pub fn audit_sealed(&self, events: u64) {
        self.audit_sealed.fetch_add(events, Ordering::Relaxed);
    }

    pub fn audit_seal_failed(&self) {
        self.audit_seal_failures.fetch_add(1, Ordering::Relaxed);
    }

    pub fn job_pass(&self, report: &JobRunReport) {
        self.jobs_done
            .fetch_add(report.done as u64, Ordering::Relaxed);
        self.jobs_retried
            .fetch_add(report.retried as u64, Ordering::Relaxed);
        self.jobs_dead
            .fetch_add(report.dead as u64, Ordering::Relaxed);
        self.keys_expired
            .fetch_add(report.expired_keys as u64, Ordering::Relaxed);
    }
}

pub struct Prometheus {
    pub counters: Arc<Counters>,
    pub jobs: Arc<dyn JobStore>,
    pub audit: Arc<dyn AuditTrail>,
}

fn counter(out: &mut String, name: &str, help: &str, value: u64) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
    );
}

#[async_trait]
impl keyport_api::Metrics for Prometheus {
    async fn render(&self) -> String {
        let c = &self.counters;
        let mut out = String::new();
        counter(
            &mut out,
            "keyport_reconcile_passes_total",
            "Reconcile passes completed by this process.",
            c.reconcile_passes.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "keyport_reconcile_failures_total",
            "Reconcile passes that failed.",
            c.reconcile_failures.load(Ordering::Relaxed),
        );
        for (name, help, values) in [
            (
                "keyport_reconcile_findings_total",
                "Disagreements the reconciler found, by kind.",
                &c.found,
            ),
            (
                "keyport_reconcile_fixes_total",
                "Disagreements the reconciler fixed, by kind.",
                &c.fixed,
            ),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for (i, kind) in KINDS.iter().enumerate() {
                let label = kind.as_str().replace(' ', "_");
                let _ = writeln!(
                    out,
                    "{name}{{kind=\"{label}\"}} {}",
                    values[i].load(Ordering::Relaxed)
                );
            }
        }
        let _ = writeln!(out, "# HELP keyport_jobs_finished_total Jobs run by this process, by outcome.\n# TYPE keyport_jobs_finished_total counter");
        for (outcome, value) in [
            ("done", &c.jobs_done),
            ("retried", &c.jobs_retried),
            ("dead", &c.jobs_dead),
        ] {
            let _ = writeln!(
                out,
                "keyport_jobs_finished_total{{outcome=\"{outcome}\"}} {}",
                value.load(Ordering::Relaxed)
            );
        }
        counter(
            &mut out,
            "keyport_keys_expired_total",
            "Keys this process marked expired.",
            c.keys_expired.load(Ordering::Relaxed),
        );
        match self.jobs.job_summary().await {
            Ok(summary) => {
                let _ = writeln!(
                    out,
                    "# HELP keyport_jobs Jobs in the queue, by state.\n# TYPE keyport_jobs gauge"
                );
                for (state, value) in [
                    ("pending", summary.pending),
                    ("running", summary.running),
                    ("dead", summary.dead),
                ] {
                    let _ = writeln!(out, "keyport_jobs{{state=\"{state}\"}} {value}");
                }
            }
            Err(error) => tracing::warn!(%error, "job queue not readable for /metrics"),
        }
        counter(
            &mut out,
            "keyport_audit_sealed_total",
            "Audit events this process sealed into the hash chain.",
            c.audit_sealed.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "keyport_audit_seal_failures_total",
            "Sealing runs of this process that failed.",
            c.audit_seal_failures.load(Ordering::Relaxed),
        );
        // Counted from the chain's head along an index: cheap while sealing keeps up.
        match self.audit.seal_backlog().await {
            Ok(unsealed) => {
                let _ = writeln!(
                    out,
                    "# HELP keyport_audit_unsealed_events Committed audit events not sealed into the hash chain yet.\n# TYPE keyport_audit_unsealed_events gauge\nkeyport_audit_unsealed_events {unsealed}"
                );
            }
            Err(error) => tracing::warn!(%error, "audit backlog not readable for /metrics"),
        }
        out
    }
}
