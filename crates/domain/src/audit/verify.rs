use crate::audit::SealAudit;
use crate::audit::{AuditTrail, ChainEntry, ChainLink, UnsealedEvents};
use crate::runtime::Clock;
use crate::Error;
use chrono::Duration;
use std::sync::Arc;

/// Chain rows read per query: verification streams over the chain in seq ranges of this size.
pub const VERIFY_RANGE: i64 = 10_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyOptions {
    /// Seal what can be sealed before verifying, so that the check covers the latest events.
    pub seal_first: bool,
    /// A head recorded earlier (outside keyport): the chain must still hold that row with that hash.
    pub expect_head: Option<ChainLink>,
    /// Unsealed events recorded longer ago than this are reported: sealing should have reached them.
    pub stale_after: Duration,
    /// Chain rows per read.
    pub range: i64,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        Self {
            seal_first: true,
            expect_head: None,
            stale_after: Duration::minutes(1),
            range: VERIFY_RANGE,
        }
    }
}

/// What verification is doing, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyProgress {
    /// Sealing first; `sealed` events so far.
    Sealed { sealed: u64 },
    /// Chain rows up to `seq` are checked, of `head`.
    Checked { seq: i64, head: i64 },
}

/// What is wrong with the chain at one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProblemKind {
    /// The event no longer matches the hash sealed for it: the event, or the chain row, was changed.
    Altered,
    /// The sealed event no longer exists: it was deleted.
    EventMissing,
    /// A row's `prev_hash` is not the hash of the row before it: a chain row was changed or replaced.
    BrokenLink,
    /// Chain rows are missing (deleted), from `seq` on.
    RowsMissing,
    /// The chain does not hold the head recorded earlier: it was cut short or rewritten.
    AnchorMismatch,
}

impl ProblemKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Altered => "altered",
            Self::EventMissing => "event missing",
            Self::BrokenLink => "broken link",
            Self::RowsMissing => "rows missing",
            Self::AnchorMismatch => "anchor mismatch",
        }
    }
}

/// One problem: where (`seq`, and the event when one is concerned) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditProblem {
    pub seq: i64,
    pub event_id: Option<i64>,
    pub kind: ProblemKind,
    pub detail: String,
}

/// The outcome of a verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditReport {
    pub problems: Vec<AuditProblem>,
    /// Chain rows checked.
    pub checked: u64,
    /// Events sealed by this run before checking.
    pub newly_sealed: u64,
    /// Sealing first was skipped because another sealer was at work.
    pub sealer_busy: bool,
    /// The chain's last row when verification started; `None` for an empty chain.
    pub head: Option<ChainLink>,
    /// Events not in the chain (yet); `older` counts those recorded before `stale_after` ago.
    pub unsealed: UnsealedEvents,
    pub stale_after: Duration,
}

impl AuditReport {
    /// Whether the chain is intact (unsealed events are a warning, not a problem).
    pub fn intact(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Verifies the audit chain: every row's hash is recomputed from its event as stored now, every row must
/// link to the one before, seqs must run without gaps from 1 to the head, and an anchored head recorded
/// earlier must still be there. Reports every problem found rather than stopping at the first.
pub struct VerifyAudit {
    trail: Arc<dyn AuditTrail>,
    clock: Arc<dyn Clock>,
}

impl VerifyAudit {
    pub fn new(trail: Arc<dyn AuditTrail>, clock: Arc<dyn Clock>) -> Self {
        Self { trail, clock }
    }

    pub async fn execute(
        &self,
        options: &VerifyOptions,
        progress: &(dyn Fn(VerifyProgress) + Sync),
    ) -> Result<AuditReport, Error> {
        let mut report = AuditReport {
            problems: Vec::new(),
            checked: 0,
            newly_sealed: 0,
            sealer_busy: false,
            head: None,
            unsealed: UnsealedEvents::default(),
            stale_after: options.stale_after,
        };
        if options.seal_first {
            let sealed = SealAudit::new(self.trail.clone()).execute().await?;
            report.newly_sealed = sealed.sealed;
            report.sealer_busy = sealed.busy;
            progress(VerifyProgress::Sealed {
                sealed: sealed.sealed,
            });
        }
        report.head = self.trail.head().await?;
        let head_seq = report.head.as_ref().map_or(0, |h| h.seq);
        let mut walk = Walk::new(options.expect_head.clone());
        let range = options.range.max(1);
        let mut from = 1;
        while from <= head_seq {
            let to = head_seq.min(from.saturating_add(range - 1));
            for entry in self.trail.chain_entries(from, to).await? {
                walk.check(&entry);
            }
            progress(VerifyProgress::Checked {
                seq: to,
                head: head_seq,
            });
            from = to + 1;
        }
        walk.finish(head_seq);
        report.checked = walk.checked;
        report.problems = walk.problems;
        let older_than = self.clock.now() - options.stale_after;
        report.unsealed = self.trail.unsealed_events(older_than).await?;
        Ok(report)
    }
}

/// The walk along the chain in seq order.
struct Walk {
    /// The seq the next row should have.
    expected: i64,
    /// The hash of the row before; `None` when there is none or it is missing.
    prev_hash: Option<String>,
    anchor: Option<ChainLink>,
    anchor_seen: bool,
    checked: u64,
    problems: Vec<AuditProblem>,
}

impl Walk {
    fn new(anchor: Option<ChainLink>) -> Self {
        Self {
            expected: 1,
            prev_hash: None,
            anchor,
            anchor_seen: false,
            checked: 0,
            problems: Vec::new(),
        }
    }

    fn problem(&mut self, seq: i64, event_id: Option<i64>, kind: ProblemKind, detail: String) {
        self.problems.push(AuditProblem {
            seq,
            event_id,
            kind,
            detail,
        });
    }

    fn check(&mut self, entry: &ChainEntry) {
        let (seq, event) = (entry.seq, entry.event_id);
        let after_gap = entry.seq > self.expected;
        if after_gap {
            let detail = if entry.seq - 1 == self.expected {
                format!("chain row {} is missing (deleted)", self.expected)
            } else {
                format!(
                    "chain rows {} to {} are missing (deleted)",
                    self.expected,
                    entry.seq - 1
                )
            };
            self.problem(self.expected, None, ProblemKind::RowsMissing, detail);
        }
        match &entry.recomputed {
            None => self.problem(
                seq,
                Some(event),
                ProblemKind::EventMissing,
                format!("event {event}, sealed at seq {seq}, no longer exists (deleted)"),
            ),
            Some(hash) if *hash != entry.hash => self.problem(
                seq,
                Some(event),
                ProblemKind::Altered,
                format!(
                    "event {event} no longer matches the hash sealed at seq {seq}: the event or its chain row was changed"
                ),
            ),
            Some(_) => {}
        }
        if seq == 1 {
            if entry.prev_hash.is_some() {
                self.problem(
                    seq,
                    Some(event),
                    ProblemKind::BrokenLink,
                    "the first chain row names a previous hash".to_owned(),
                );
            }
        } else if !after_gap && entry.prev_hash != self.prev_hash {
            self.problem(
                seq,
                Some(event),
                ProblemKind::BrokenLink,
                format!(
                    "seq {seq} does not link to seq {}: a chain row was changed or replaced",
                    seq - 1
                ),
            );
        }
        if let Some(anchor) = &self.anchor {
            if anchor.seq == seq {
                self.anchor_seen = true;
                if anchor.hash != entry.hash {
                    let detail = format!(
                        "seq {seq} has hash {} instead of the recorded {}: the chain was rewritten",
                        entry.hash, anchor.hash
                    );
                    self.problem(seq, Some(event), ProblemKind::AnchorMismatch, detail);
                }
            }
        }
        self.prev_hash = Some(entry.hash.clone());
        self.expected = seq + 1;
        self.checked += 1;
    }

    fn finish(&mut self, head_seq: i64) {
        if self.expected <= head_seq {
            let detail = format!(
                "chain rows {} to {head_seq} are missing (deleted)",
                self.expected
            );
            self.problem(self.expected, None, ProblemKind::RowsMissing, detail);
        }
        if let Some(anchor) = self.anchor.clone() {
            if !self.anchor_seen {
                let detail = if anchor.seq > head_seq {
                    format!(
                        "the chain ends at seq {head_seq}, before the recorded head {}: rows were removed from its end",
                        anchor.seq
                    )
                } else {
                    format!("the recorded head, seq {}, is missing", anchor.seq)
                };
                self.problem(anchor.seq, None, ProblemKind::AnchorMismatch, detail);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::MockAuditTrail;
    use crate::audit::SEAL_BATCH;
    use crate::fixtures::*;
    use std::sync::Mutex;

    fn hash(n: i64) -> String {
        format!("{n:064x}")
    }

    /// A sound chain of `n` rows: row i seals event 100 + i with hash(i).
    fn chain(n: i64) -> Vec<ChainEntry> {
        (1..=n)
            .map(|seq| ChainEntry {
                seq,
                event_id: 100 + seq,
                prev_hash: (seq > 1).then(|| hash(seq - 1)),
                hash: hash(seq),
                recomputed: Some(hash(seq)),
            })
            .collect()
    }

    /// A trail over `rows` that has nothing to seal and `unsealed` events outside the chain.
    fn trail(rows: Vec<ChainEntry>, unsealed: UnsealedEvents) -> MockAuditTrail {
        let mut trail = MockAuditTrail::new();
        trail.expect_seal().returning(|_| Ok(Some(0)));
        let head = rows.last().map(|r| ChainLink {
            seq: r.seq,
            hash: r.hash.clone(),
        });
        trail.expect_head().returning(move || Ok(head.clone()));
        trail.expect_chain_entries().returning(move |from, to| {
            Ok(rows
                .iter()
                .filter(|r| (from..=to).contains(&r.seq))
                .cloned()
                .collect())
        });
        trail
            .expect_unsealed_events()
            .withf(|older_than| *older_than == now() - Duration::minutes(1))
            .returning(move |_| Ok(unsealed));
        trail
    }

    async fn verify(trail: MockAuditTrail, options: VerifyOptions) -> AuditReport {
        VerifyAudit::new(Arc::new(trail), fixed_clock())
            .execute(&options, &|_| {})
            .await
            .unwrap()
    }

    fn kinds(report: &AuditReport) -> Vec<(ProblemKind, i64, Option<i64>)> {
        report
            .problems
            .iter()
            .map(|p| (p.kind, p.seq, p.event_id))
            .collect()
    }

    #[tokio::test]
    async fn a_sound_chain_is_intact_and_read_in_ranges_with_progress() {
        let unsealed = UnsealedEvents { total: 2, older: 1 };
        let rows = chain(25);
        let mut mock = MockAuditTrail::new();
        mock.expect_seal().returning(|_| Ok(Some(3)));
        mock.expect_head().returning(|| {
            Ok(Some(ChainLink {
                seq: 25,
                hash: hash(25),
            }))
        });
        let ranges = Arc::new(Mutex::new(Vec::new()));
        let seen = ranges.clone();
        mock.expect_chain_entries().returning(move |from, to| {
            seen.lock().unwrap().push((from, to));
            Ok(rows
                .iter()
                .filter(|r| (from..=to).contains(&r.seq))
                .cloned()
                .collect())
        });
        mock.expect_unsealed_events()
            .returning(move |_| Ok(unsealed));
        let steps = Mutex::new(Vec::new());
        let report = VerifyAudit::new(Arc::new(mock), fixed_clock())
            .execute(
                &VerifyOptions {
                    range: 10,
                    ..VerifyOptions::default()
                },
                &|step| steps.lock().unwrap().push(step),
            )
            .await
            .unwrap();
        assert!(report.intact(), "{:?}", report.problems);
        assert_eq!(report.checked, 25);
        assert_eq!(report.newly_sealed, 3);
        assert_eq!(report.unsealed, unsealed);
        assert_eq!(report.head.unwrap().seq, 25);
        assert_eq!(*ranges.lock().unwrap(), [(1, 10), (11, 20), (21, 25)]);
        assert_eq!(
            steps.into_inner().unwrap(),
            [
                VerifyProgress::Sealed { sealed: 3 },
                VerifyProgress::Checked { seq: 10, head: 25 },
                VerifyProgress::Checked { seq: 20, head: 25 },
                VerifyProgress::Checked { seq: 25, head: 25 },
            ]
        );
    }

    #[tokio::test]
    async fn an_edited_event_is_reported_with_its_seq_and_id() {
        let mut rows = chain(5);
        rows[2].recomputed = Some(hash(999));
        let report = verify(
            trail(rows, UnsealedEvents::default()),
            VerifyOptions::default(),
        )
        .await;
        assert_eq!(kinds(&report), [(ProblemKind::Altered, 3, Some(103))]);
        assert!(!report.intact());
    }

    #[tokio::test]
    async fn a_deleted_event_is_reported() {
        let mut rows = chain(5);
        rows[1].recomputed = None;
        let report = verify(
            trail(rows, UnsealedEvents::default()),
            VerifyOptions::default(),
        )
        .await;
        assert_eq!(kinds(&report), [(ProblemKind::EventMissing, 2, Some(102))]);
    }

    #[tokio::test]
    async fn a_rewritten_chain_row_breaks_the_link_to_the_next() {
        // Row 3's hash replaced (and recomputed over the same event, as a forger would): row 4 no longer
        // links to it.
        let mut rows = chain(5);
        rows[2].hash = hash(333);
        rows[2].recomputed = Some(hash(333));
        let report = verify(
            trail(rows, UnsealedEvents::default()),
            VerifyOptions::default(),
        )
        .await;
        assert_eq!(kinds(&report), [(ProblemKind::BrokenLink, 4, Some(104))]);
    }

    #[tokio::test]
    async fn deleted_chain_rows_are_a_gap_named_by_its_first_seq() {
        let mut rows = chain(6);
        rows.drain(1..3);
        let report = verify(
            trail(rows, UnsealedEvents::default()),
            VerifyOptions::default(),
        )
        .await;
        assert_eq!(kinds(&report), [(ProblemKind::RowsMissing, 2, None)]);
        assert!(report.problems[0].detail.contains("2 to 3"));
        assert_eq!(report.checked, 4);
    }

    #[tokio::test]
    async fn an_anchored_head_must_still_be_there_with_its_hash() {
        let anchored = |seq: i64, h: String| VerifyOptions {
            expect_head: Some(ChainLink { seq, hash: h }),
            ..VerifyOptions::default()
        };
        let fine = verify(
            trail(chain(5), UnsealedEvents::default()),
            anchored(4, hash(4)),
        )
        .await;
        assert!(fine.intact(), "{:?}", fine.problems);

        let rewritten = verify(
            trail(chain(5), UnsealedEvents::default()),
            anchored(4, hash(44)),
        )
        .await;
        assert_eq!(
            kinds(&rewritten),
            [(ProblemKind::AnchorMismatch, 4, Some(104))]
        );

        let cut_short = verify(
            trail(chain(3), UnsealedEvents::default()),
            anchored(4, hash(4)),
        )
        .await;
        assert_eq!(kinds(&cut_short), [(ProblemKind::AnchorMismatch, 4, None)]);
        assert!(cut_short.problems[0].detail.contains("ends at seq 3"));

        let empty = verify(
            trail(vec![], UnsealedEvents::default()),
            anchored(4, hash(4)),
        )
        .await;
        assert_eq!(kinds(&empty), [(ProblemKind::AnchorMismatch, 4, None)]);
    }

    #[tokio::test]
    async fn every_problem_is_reported_not_only_the_first() {
        let mut rows = chain(8);
        rows[0].recomputed = None;
        rows[4].recomputed = Some(hash(0));
        rows.remove(6);
        let report = verify(
            trail(rows, UnsealedEvents::default()),
            VerifyOptions::default(),
        )
        .await;
        assert_eq!(
            kinds(&report),
            [
                (ProblemKind::EventMissing, 1, Some(101)),
                (ProblemKind::Altered, 5, Some(105)),
                (ProblemKind::RowsMissing, 7, None),
            ]
        );
    }

    #[tokio::test]
    async fn without_sealing_first_nothing_is_sealed() {
        let mut mock = MockAuditTrail::new();
        mock.expect_seal().never();
        mock.expect_head().returning(|| Ok(None));
        mock.expect_unsealed_events()
            .returning(|_| Ok(UnsealedEvents { total: 4, older: 4 }));
        let report = verify(
            mock,
            VerifyOptions {
                seal_first: false,
                ..VerifyOptions::default()
            },
        )
        .await;
        assert!(report.intact());
        assert_eq!(report.unsealed.older, 4);
        assert_eq!(report.checked, 0);
    }

    #[tokio::test]
    async fn a_busy_sealer_is_reported_and_verification_goes_on() {
        let mut mock = MockAuditTrail::new();
        mock.expect_seal()
            .withf(|batch| *batch == SEAL_BATCH)
            .returning(|_| Ok(None));
        mock.expect_head().returning(|| Ok(None));
        mock.expect_unsealed_events()
            .returning(|_| Ok(UnsealedEvents::default()));
        let report = verify(mock, VerifyOptions::default()).await;
        assert!(report.sealer_busy);
        assert!(report.intact());
    }
}
