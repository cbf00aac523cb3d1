//! `keyport audit verify [--expect-head <seq>:<hash>]`: seals what can be sealed, verifies the whole audit
//! chain with a progress bar, prints a summary and fails (exit code 1) when anything is wrong; and the
//! background sealer of `keyport serve`.

use crate::metrics::Counters;
use crate::wiring::SystemClock;
use indicatif::{ProgressBar, ProgressStyle};
use keyport_domain::audit::{AuditReport, SealAudit, VerifyAudit, VerifyOptions, VerifyProgress};
use keyport_domain::audit::{AuditTrail, ChainLink};
use keyport_postgres::PgStore;
use std::io::IsTerminal;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The CLI's verification: answers the report; the caller prints it and decides the exit code.
pub async fn verify(store: Arc<PgStore>, expect_head: Option<&str>) -> anyhow::Result<AuditReport> {
    let expect_head = expect_head
        .map(ChainLink::parse)
        .transpose()
        .map_err(|e| anyhow::anyhow!("--expect-head: {}", e.message))?;
    let options = VerifyOptions {
        expect_head,
        ..VerifyOptions::default()
    };
    let terminal = std::io::stderr().is_terminal();
    let bar = if terminal {
        ProgressBar::new(0)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg:<16} [{bar:30}] {pos}/{len} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message("sealing");
    let verify = VerifyAudit::new(store, Arc::new(SystemClock));
    let report = verify
        .execute(&options, &|step| match step {
            VerifyProgress::Sealed { sealed } => {
                if !terminal && sealed > 0 {
                    eprintln!("sealed {sealed} events");
                }
            }
            VerifyProgress::Checked { seq, head } => {
                bar.set_message("chain rows");
                bar.set_length(u64::try_from(head).unwrap_or_default());
                bar.set_position(u64::try_from(seq).unwrap_or_default());
                if !terminal && (seq == head || seq % 100_000 == 0) {
                    eprintln!("checked chain rows up to seq {seq} of {head}");
                }
            }
        })
        .await?;
    bar.finish_and_clear();
    Ok(report)
}

/// `n` and the noun, plural unless `n` is 1 (`1 row`, `2 rows`).
pub fn count(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// The summary the CLI prints: the head to record, the counts, every problem, and the warnings.
pub fn summary(report: &AuditReport) -> String {
    let mut out = String::new();
    match &report.head {
        Some(head) => out.push_str(&format!(
            "Audit chain: {} checked, head {head}\n",
            count(report.checked, "row")
        )),
        None => out.push_str("Audit chain: empty (no event sealed yet)\n"),
    }
    if report.sealer_busy {
        out.push_str("Sealed now: none (another sealer was at work)\n");
    } else {
        out.push_str(&format!("Sealed now: {}\n", report.newly_sealed));
    }
    out.push_str(&format!("Unsealed events: {}\n", report.unsealed.total));
    if report.problems.is_empty() {
        out.push_str("Problems: none, the chain is intact\n");
    } else {
        out.push_str(&format!(
            "Problems: {}, the chain is NOT intact\n\n",
            report.problems.len()
        ));
        out.push_str(&format!(
            "{:>10} {:>10}  {:<16} {}\n",
            "seq", "event", "problem", "detail"
        ));
        for p in report.problems.iter().take(1_000) {
            let event = p
                .event_id
                .map(|e| e.to_string())
                .unwrap_or_else(|| "-".into());
            out.push_str(&format!(
                "{:>10} {:>10}  {:<16} {}\n",
                p.seq,
                event,
                p.kind.as_str(),
                p.detail
            ));
        }
        if report.problems.len() > 1_000 {
            out.push_str(&format!("… and {} more\n", report.problems.len() - 1_000));
        }
    }
    if report.unsealed.older > 0 {
        out.push_str(&format!(
            "\nwarning: {} recorded more than {} s ago not sealed: a long-running write transaction is \
             holding sealing back, no keyport server is sealing, or chain rows were removed\n",
            count(report.unsealed.older, "committed event"),
            report.stale_after.num_seconds()
        ));
    }
    out
}

/// The background sealer: every `interval`, seals what has committed since (one replica at a time; the
/// others skip). A failure is logged at most once a minute while it lasts.
pub fn spawn(store: Arc<PgStore>, interval: Duration, counters: Arc<Counters>) {
    actix_web::rt::spawn(async move {
        let trail: Arc<dyn AuditTrail> = store;
        let seal = SealAudit::new(trail);
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_warning: Option<Instant> = None;
        loop {
            ticker.tick().await;
            match seal.execute().await {
                Ok(report) => {
                    counters.audit_sealed(report.sealed);
                    if last_warning.take().is_some() {
                        tracing::info!("audit sealing works again");
                    }
                }
                Err(error) => {
                    counters.audit_seal_failed();
                    if last_warning.is_none_or(|at| at.elapsed() >= Duration::from_secs(60)) {
                        tracing::error!(%error, "sealing the audit chain failed; run `keyport audit verify`");
                        last_warning = Some(Instant::now());
                    }
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use keyport_domain::audit::UnsealedEvents;
    use keyport_domain::audit::{AuditProblem, ProblemKind};

    fn report() -> AuditReport {
        AuditReport {
            problems: vec![],
            checked: 12,
            newly_sealed: 2,
            sealer_busy: false,
            head: Some(ChainLink {
                seq: 12,
                hash: "ab".repeat(32),
            }),
            unsealed: UnsealedEvents::default(),
            stale_after: chrono::Duration::minutes(1),
        }
    }

    #[test]
    fn an_intact_chain_prints_its_head_to_record() {
        let text = summary(&report());
        assert!(
            text.contains(&format!("head 12:{}", "ab".repeat(32))),
            "{text}"
        );
        assert!(text.contains("the chain is intact"), "{text}");
        assert!(!text.contains("warning"), "{text}");
    }

    #[test]
    fn problems_are_listed_with_seq_and_event_and_late_events_warned_about() {
        let mut r = report();
        r.problems.push(AuditProblem {
            seq: 7,
            event_id: Some(41),
            kind: ProblemKind::Altered,
            detail: "event 41 no longer matches".into(),
        });
        r.unsealed = UnsealedEvents { total: 3, older: 2 };
        let text = summary(&r);
        assert!(text.contains("NOT intact"), "{text}");
        let line = text.lines().find(|l| l.contains("altered")).unwrap();
        assert!(line.contains(" 7 ") && line.contains(" 41 "), "{line}");
        assert!(
            text.contains("warning: 2 committed events recorded"),
            "{text}"
        );
        assert_eq!(count(1, "row"), "1 row");
    }
}
