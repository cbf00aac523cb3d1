//! The proof of keyport's promise (docs/lifecycle.md#invariants): whatever fails — LiteLLM slow, answering 5xx,
//! timing out before or after committing, dropping connections; the database unavailable; the process dying
//! between any two steps; workers, the reconciler or other requests running in between — once the job worker
//! and one reconcile pass have run, the invariants hold (see `invariants.rs`).
//!
//! In process: the use cases are built as the server builds them, over the real `PgStore` (a database per
//! test) and the real `LiteLlmClient` (short timeouts) against an in-process LiteLLM double, with
//! decorators (`faulty.rs`) that break a flow at a chosen step. `scenarios.rs` breaks each flow at every
//! step; `random.rs` runs seeded random sequences (`KEYPORT_RANDOM_SEQUENCES`, `KEYPORT_RANDOM_SEED`).

#![expect(
    clippy::panic,
    clippy::unwrap_used,
    reason = "test helpers outside #[test] functions: a failed unwrap or panic is a failed test"
)]

// Test code: a failed unwrap is a failed test.

mod capture;
mod env;
mod faulty;
mod invariants;
mod quotas;
mod random;
mod scenarios;
