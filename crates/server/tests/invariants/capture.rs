//! Every log line keyport writes in this test process, captured in memory so that the invariants can
//! search it for secrets: a global `tracing` subscriber (the use cases run on several runtime threads)
//! that keeps every event and span field of keyport's crates, at every level.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

static LOG: OnceLock<Mutex<String>> = OnceLock::new();

fn log() -> &'static Mutex<String> {
    LOG.get_or_init(|| Mutex::new(String::new()))
}

struct Capture {
    next_id: AtomicU64,
}

struct Fields<'a>(&'a mut String);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, " {}={:?}", field.name(), value);
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        let _ = write!(self.0, " {}={}", field.name(), value);
    }
}

/// keyport's own crates; the LiteLLM double (which sees secrets, as LiteLLM does) is not keyport.
fn is_keyports(target: &str) -> bool {
    target.starts_with("keyport") && !target.starts_with("keyport_litellm_double")
}

impl Subscriber for Capture {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        is_keyports(metadata.target())
    }
    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let mut out = log().lock().unwrap_or_else(|e| e.into_inner());
        let _ = write!(out, "span {}:", span.metadata().name());
        span.record(&mut Fields(&mut out));
        out.push('\n');
        Id::from_u64(self.next_id.fetch_add(1, Ordering::Relaxed))
    }
    fn record(&self, _: &Id, values: &Record<'_>) {
        let mut out = log().lock().unwrap_or_else(|e| e.into_inner());
        values.record(&mut Fields(&mut out));
        out.push('\n');
    }
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut out = log().lock().unwrap_or_else(|e| e.into_inner());
        let _ = write!(
            out,
            "{} {}:",
            event.metadata().level(),
            event.metadata().target()
        );
        event.record(&mut Fields(&mut out));
        out.push('\n');
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

/// Installs the capture for the whole process (once).
pub fn install() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let _ = tracing::subscriber::set_global_default(Capture {
            next_id: AtomicU64::new(1),
        });
    });
}

/// Runs `f` over everything logged so far.
pub fn with_log<R>(f: impl FnOnce(&str) -> R) -> R {
    f(&log().lock().unwrap_or_else(|e| e.into_inner()))
}
