//! `keyport reconcile [--dry-run] [--quarantine]`: one pass of the reconciler with a progress bar and a
//! summary table; and the background reconciler of `keyport serve`, led by one replica at a time through a
//! PostgreSQL advisory lock.

use crate::metrics::Counters;
use crate::wiring::Wiring;
use indicatif::{ProgressBar, ProgressStyle};
use keyport_domain::reconcile::{
    FindingKind, Reconcile, ReconcileOptions, ReconcileProgress, ReconcileReport,
};
use keyport_domain::reconcile::{ReconcileLog, ReconcileRun, ReconcileTrigger};
use keyport_domain::runtime::Leadership;
use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

/// The advisory lock's name: one reconciler across all replicas.
const LEADER_LOCK: &str = "keyport.reconciler";

pub fn reconciler(wiring: &Wiring) -> Reconcile {
    Reconcile::new(
        wiring.store.clone(),
        wiring.store.clone(),
        wiring.converge_user(),
        wiring.store.clone(),
        wiring.gateway.clone(),
        wiring.clock.clone(),
        wiring.stored_settings(),
    )
}

/// The CLI pass.
pub async fn run_once(
    wiring: &Wiring,
    options: ReconcileOptions,
) -> anyhow::Result<ReconcileReport> {
    let Some(_leader) = wiring.store.try_lead(LEADER_LOCK).await? else {
        anyhow::bail!(
            "another reconciler is running (a keyport replica holds the lock); try again later"
        );
    };
    let bar = if std::io::stderr().is_terminal() {
        ProgressBar::new(0)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg:<28} [{bar:30}] {pos}/{len} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let plain = !std::io::stderr().is_terminal();
    let started = wiring.clock.now();
    let result = reconciler(wiring)
        .execute(&options, &|step| match step {
            ReconcileProgress::LiteLlmPage { page, pages } => {
                bar.set_message("LiteLLM pages");
                bar.set_length(u64::from(pages));
                bar.set_position(u64::from(page));
                if plain && (page == pages || page % 50 == 0) {
                    eprintln!("LiteLLM: page {page} of {pages}");
                }
            }
            ReconcileProgress::KeyportRows { done } => {
                bar.set_message("keyport rows");
                bar.set_length(done);
                bar.set_position(done);
                if plain {
                    eprintln!("keyport: {done} live rows checked");
                }
            }
        })
        .await;
    bar.finish_and_clear();
    record(
        wiring,
        &result,
        ReconcileTrigger::Command,
        options.dry_run,
        started,
    )
    .await;
    Ok(result?)
}

/// Writes the pass down for `GET /api/v1/admin/reconcile`; a failure to do so is logged, not fatal.
async fn record(
    wiring: &Wiring,
    result: &Result<ReconcileReport, keyport_domain::Error>,
    trigger: ReconcileTrigger,
    dry_run: bool,
    started: chrono::DateTime<chrono::Utc>,
) {
    let finished = wiring.clock.now();
    let run = match result {
        Ok(report) => ReconcileRun::completed(report, trigger, started, finished),
        Err(error) => ReconcileRun::failed(error, trigger, dry_run, started, finished),
    };
    if let Err(error) = wiring.store.record_run(&run).await {
        tracing::warn!(%error, "could not record the reconcile pass");
    }
}

/// The summary table the CLI prints.
pub fn summary(report: &ReconcileReport) -> String {
    let mut out = String::new();
    let mode = if report.dry_run {
        " (dry run: nothing changed)"
    } else {
        ""
    };
    out.push_str(&format!(
        "Reconcile pass{mode}: {} LiteLLM keys in {} pages, {} live keyport rows, {} LiteLLM calls, spend recorded for {} keys\n\n",
        report.litellm_keys, report.litellm_pages, report.keyport_rows, report.litellm_calls, report.spend_recorded
    ));
    out.push_str(&format!(
        "{:<20} {:>7} {:>7}\n",
        "finding", "found", "fixed"
    ));
    for kind in FindingKind::ALL {
        let found = report.count(kind);
        let fixed = report
            .findings
            .iter()
            .filter(|f| f.kind == kind && f.fixed)
            .count();
        out.push_str(&format!(
            "{:<20} {:>7} {:>7}\n",
            kind.as_str(),
            found,
            fixed
        ));
    }
    if !report.findings.is_empty() {
        out.push('\n');
        for f in report.findings.iter().take(200) {
            let key = f
                .key_id
                .map(|k| k.to_string())
                .unwrap_or_else(|| "-".into());
            out.push_str(&format!(
                "{:<18} {:<36} {:<12} {}{}\n",
                f.kind.as_str(),
                key,
                f.hash_prefix,
                f.detail,
                if f.fixed || report.dry_run {
                    ""
                } else {
                    "  [NOT FIXED]"
                }
            ));
        }
        if report.findings.len() > 200 {
            out.push_str(&format!(
                "… and {} more (see the audit log)\n",
                report.findings.len() - 200
            ));
        }
    }
    out
}

/// The background reconciler: every `interval`, the replica that wins the advisory lock runs a pass.
pub fn spawn(
    wiring: Wiring,
    interval: Duration,
    options: ReconcileOptions,
    counters: Arc<Counters>,
) {
    actix_web::rt::spawn(async move {
        let reconcile = Arc::new(reconciler(&wiring));
        let mut ticker = tokio::time::interval(interval);
        loop {
            ticker.tick().await;
            let leader = match wiring.store.try_lead(LEADER_LOCK).await {
                Ok(Some(guard)) => guard,
                Ok(None) => {
                    tracing::debug!("another replica leads the reconciler");
                    continue;
                }
                Err(error) => {
                    tracing::warn!(%error, "could not take the reconciler lock");
                    continue;
                }
            };
            let started = wiring.clock.now();
            let result = reconcile.execute(&options, &|_| {}).await;
            record(
                &wiring,
                &result,
                ReconcileTrigger::Background,
                options.dry_run,
                started,
            )
            .await;
            match &result {
                Ok(report) => counters.reconcile_pass(report),
                Err(_) => counters.reconcile_failed(),
            }
            match result {
                Ok(report) if !report.findings.is_empty() => tracing::warn!(
                    findings = report.findings.len(),
                    fixed = report.fixed(),
                    orphans = report.count(FindingKind::Orphan),
                    drift = report.count(FindingKind::Drift),
                    missing = report.count(FindingKind::Missing),
                    "reconciler found disagreements"
                ),
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "reconcile pass failed"),
            }
            drop(leader);
        }
    });
}
